"""The audit trail staff can read: who changed what, when, with the values before and after."""

from ..extensions import db
from ..models import AuditEntry
from . import clock


def record_audit(actor: str, action: str, object_type: str, object_id, before: dict | None, after: dict | None) -> AuditEntry:
    """Add an audit entry to the session; it is committed, or not, with the change it describes."""
    entry = AuditEntry(
        at=clock.utcnow(), actor=actor, action=action, object_type=object_type,
        object_id=str(object_id), before=before, after=after,
    )
    db.session.add(entry)
    return entry
