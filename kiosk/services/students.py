"""Changes a student makes to their own record, each written to the audit trail."""

import logging

from ..extensions import db
from ..models import Student
from .audit import record_audit

logger = logging.getLogger(__name__)

CONTACT_FIELDS = ("email", "phone", "address_line", "postal_code", "city", "country")


def update_contact(student: Student, values: dict, actor: str) -> bool:
    """Apply the corrected contact details; return whether anything changed."""
    cleaned = {name: (values.get(name) or "").strip() or None for name in CONTACT_FIELDS}
    before = {name: getattr(student, name) for name in CONTACT_FIELDS}
    changed = {name: value for name, value in cleaned.items() if before[name] != value}
    if not changed:
        return False
    for name, value in changed.items():
        setattr(student, name, value)
    record_audit(actor, "update_contact", "student", student.number, {k: before[k] for k in changed}, changed)
    db.session.flush()
    logger.info("Student %s updated contact fields %s", student.id, ", ".join(sorted(changed)))
    return True
