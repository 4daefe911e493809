"""Personal data: the export a student downloads (RGPD right of access) and the retention purge.

Neither function commits: the route and the command do, so a purge is one transaction.
"""

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timezone

from flask import current_app
from sqlalchemy import String, cast, delete, func, or_, select

from ..extensions import db
from ..models import (
    AcquiredElp, AuditEntry, Block, Elp, Group, GroupMembership, Ia, Ip, IpSelection, IpVersion,
    Lse, OutboxMail, OwedElp, Student, WaitlistEntry,
)
from . import clock
from .groups import give_back_seat

logger = logging.getLogger(__name__)

# Audit entries whose object_id names a student (by number) or one of their IPs (by id).
STUDENT_OBJECT_TYPE = "student"
IP_OBJECT_TYPE = "ip"


def utc_text(moment: datetime | None) -> str | None:
    """Write a naive UTC datetime as ISO 8601 with its offset: 2026-12-04T10:00:00+00:00."""
    return moment.replace(tzinfo=timezone.utc).isoformat() if moment is not None else None


def date_text(day: date | None) -> str | None:
    return day.isoformat() if day is not None else None


# The export (right of access)


def export_personal_data(student: Student, now_utc: datetime) -> dict:
    """Gather everything the kiosk stores about the student, as plain JSON-ready data."""
    ips = list(db.session.scalars(select(Ip).where(Ip.student_id == student.id).order_by(Ip.year, Ip.id)))
    return {
        "exported_at": utc_text(now_utc),
        "university": str(current_app.config["KIOSK_UNIVERSITY_NAME"]),
        "student": export_identity(student),
        "ias": [export_ia(ia) for ia in student.ias],
        "blocks": export_blocks(student),
        "acquired_elements": export_acquired(student),
        "owed_elements": export_owed(student),
        "ips": [export_ip(ip) for ip in ips],
        "group_memberships": export_memberships(student),
        "waitlist_entries": export_waitlists(student),
        "mails": export_mails(student),
        "audit_entries": export_audit_entries(student, [ip.id for ip in ips]),
    }


def export_identity(student: Student) -> dict:
    return {
        "number": student.number,
        "last_name": student.last_name,
        "first_name": student.first_name,
        "birth_date": date_text(student.birth_date),
        "email": student.email,
        "phone": student.phone,
        "address_line": student.address_line,
        "postal_code": student.postal_code,
        "city": student.city,
        "country": student.country,
        "locale": student.locale,
    }


def export_ia(ia: Ia) -> dict:
    return {
        "year": clock.year_label(ia.year),
        "vet_code": ia.vet.code,
        "vet_version": ia.vet.version,
        "vet_label": ia.vet.label,
        "state": ia.state,
        "payment_state": ia.payment_state,
        "is_principal": ia.is_principal,
    }


def export_blocks(student: Student) -> list[dict]:
    blocks = db.session.scalars(select(Block).where(Block.student_id == student.id).order_by(Block.starts_on, Block.id))
    return [
        {
            "code": block.code,
            "label": block.block_code.label,
            "starts_on": date_text(block.starts_on),
            "ends_on": date_text(block.ends_on),
        }
        for block in blocks
    ]


def export_acquired(student: Student) -> list[dict]:
    rows = db.session.scalars(
        select(AcquiredElp).where(AcquiredElp.student_id == student.id).order_by(AcquiredElp.year, AcquiredElp.id)
    )
    return [{"year": clock.year_label(row.year), "code": row.elp.code, "label": row.elp.label} for row in rows]


def export_owed(student: Student) -> list[dict]:
    rows = db.session.scalars(
        select(OwedElp).where(OwedElp.student_id == student.id).order_by(OwedElp.year, OwedElp.id)
    )
    return [{"year": clock.year_label(row.year), "code": row.elp.code, "label": row.elp.label} for row in rows]


def export_ip(ip: Ip) -> dict:
    return {
        "year": clock.year_label(ip.year),
        "vet_code": ip.vet.code,
        "vet_version": ip.vet.version,
        "vet_label": ip.vet.label,
        "campaign": ip.campaign.code if ip.campaign is not None else None,
        "status": ip.status,
        "origin": ip.origin,
        "created_at": utc_text(ip.created_at),
        "updated_at": utc_text(ip.updated_at),
        "selections": export_selections(ip),
        "versions": [
            {
                "number": version.number,
                "status": version.status,
                "validated_at": utc_text(version.validated_at),
                "validated_by": version.validated_by,
                "contract": version.contract,
            }
            for version in ip.versions
        ],
    }


def export_selections(ip: Ip) -> list[dict]:
    """Describe the draft's ticked elements by codes: the list, the element and its parent element."""
    selections = sorted(ip.selections, key=lambda selection: selection.id)
    elp_ids = {s.elp_id for s in selections} | {s.parent_elp_id for s in selections if s.parent_elp_id}
    elps = {elp.id: elp for elp in db.session.scalars(select(Elp).where(Elp.id.in_(elp_ids)))}
    list_codes = dict(db.session.execute(select(Lse.id, Lse.code).where(Lse.id.in_({s.lse_id for s in selections}))).all())
    return [
        {
            "list": list_codes[selection.lse_id],
            "parent_element": elps[selection.parent_elp_id].code if selection.parent_elp_id else None,
            "element_code": elps[selection.elp_id].code,
            "element_label": elps[selection.elp_id].label,
        }
        for selection in selections
    ]


def describe_group(group: Group) -> dict:
    collection = group.collection
    owner = collection.elp.code if collection.elp is not None else collection.vet.full_code
    return {"collection": collection.code, "collection_label": collection.label, "owner": owner, "group": group.label}


def export_memberships(student: Student) -> list[dict]:
    memberships = db.session.scalars(
        select(GroupMembership).where(GroupMembership.student_id == student.id).order_by(GroupMembership.id)
    )
    return [
        {
            **describe_group(membership.group),
            "assigned_by": membership.assigned_by,
            "created_at": utc_text(membership.created_at),
        }
        for membership in memberships
    ]


def export_waitlists(student: Student) -> list[dict]:
    entries = db.session.scalars(
        select(WaitlistEntry).where(WaitlistEntry.student_id == student.id).order_by(WaitlistEntry.id)
    )
    return [{**describe_group(entry.group), "created_at": utc_text(entry.created_at)} for entry in entries]


def student_addresses(student: Student) -> set[str]:
    """Return the student's email address and every earlier one the audit trail recorded, in lower case."""
    addresses = {student.email.lower()}
    changes = db.session.scalars(
        select(AuditEntry).where(
            AuditEntry.object_type == STUDENT_OBJECT_TYPE, AuditEntry.object_id == student.number,
            AuditEntry.action == "update_contact",
        )
    )
    for entry in changes:
        for values in (entry.before or {}, entry.after or {}):
            if values.get("email"):
                addresses.add(values["email"].lower())
    return addresses


def export_mails(student: Student) -> list[dict]:
    """Describe the mails sent to the student, without their body or attachment."""
    # NOTE: outbox rows carry no student id, so mails are found by recipient address. A mail
    # to an address the student shares with someone else is listed for both.
    mails = db.session.scalars(
        select(OutboxMail)
        .where(func.lower(OutboxMail.recipient_address).in_(student_addresses(student)))
        .order_by(OutboxMail.created_at, OutboxMail.id)
    )
    return [
        {
            "message_id": mail.message_id,
            "subject": mail.subject,
            "recipient_address": mail.recipient_address,
            "attachment_name": mail.attachment_name,
            "status": mail.status,
            "attempts": mail.attempts,
            "created_at": utc_text(mail.created_at),
            "sent_at": utc_text(mail.sent_at),
        }
        for mail in mails
    ]


def export_audit_entries(student: Student, ip_ids: list[int]) -> list[dict]:
    """Describe the audit entries the student made, and those about the student or one of their IPs."""
    entries = db.session.scalars(
        select(AuditEntry)
        .where(or_(
            AuditEntry.actor == student.number,
            (AuditEntry.object_type == STUDENT_OBJECT_TYPE) & (AuditEntry.object_id == student.number),
            (AuditEntry.object_type == IP_OBJECT_TYPE) & AuditEntry.object_id.in_([str(i) for i in ip_ids]),
        ))
        .order_by(AuditEntry.at, AuditEntry.id)
    )
    return [
        {
            "at": utc_text(entry.at),
            "actor": entry.actor,
            "action": entry.action,
            "object_type": entry.object_type,
            "object_id": entry.object_id,
            "before": entry.before,
            "after": entry.after,
        }
        for entry in entries
    ]


# The retention purge


@dataclass
class PurgeCounts:
    """Rows deleted (or, in a dry run, that would be) per kind of data."""

    ips: int = 0
    ip_versions: int = 0
    ip_selections: int = 0
    ias: int = 0
    owed_elements: int = 0
    outbox_mails: int = 0
    audit_entries: int = 0
    students: int = 0
    blocks: int = 0
    acquired_elements: int = 0
    group_memberships: int = 0
    waitlist_entries: int = 0
    # Rows of tables this module does not name that point at a deleted student, per table.
    other_rows: dict[str, int] = field(default_factory=dict)

    def as_lines(self) -> list[str]:
        lines = [f"{name.replace('_', ' ')}: {count}" for name, count in vars(self).items() if name != "other_rows"]
        lines.extend(f"{table} rows: {count}" for table, count in sorted(self.other_rows.items()))
        return lines


def first_retained_year(current_year: int, retention_years: int) -> int:
    """Return the oldest academic year kept: with 5 years kept besides 2026-2027, 2021-2022."""
    return current_year - retention_years


def year_start_utc(year: int) -> datetime:
    """Return the start of an academic year (the 1st of KIOSK_YEAR_START_MONTH, local midnight) in naive UTC."""
    return clock.local_to_utc(datetime(year, current_app.config["KIOSK_YEAR_START_MONTH"], 1))


def purge_personal_data(current_year: int, retention_years: int) -> PurgeCounts:
    """Delete what is older than the retention, and the students with no IA in a kept year.

    For the years before first_retained_year, this deletes the IPs with their versions and
    selections, the IAs and the owed elements. Outbox mails and audit entries about students go
    when they are dated before that year began. A student with no IA in a kept year goes too,
    with everything that points at them. Flushes and never commits, so the caller decides: a
    dry run rolls back.
    """
    oldest_year = first_retained_year(current_year, retention_years)
    cutoff = year_start_utc(oldest_year)
    # Subqueries rather than id lists, so that any number of students fits one statement.
    # correlate(None) keeps each subquery whole inside a DELETE of the same table.
    has_kept_ia = select(Ia.id).where(Ia.student_id == Student.id, Ia.year >= oldest_year).correlate(Student).exists()
    purged_students = select(Student.id).where(~has_kept_ia).correlate(None)
    purged_numbers = select(Student.number).where(~has_kept_ia).correlate(None)
    purged_ips = select(Ip.id).where(or_(Ip.year < oldest_year, Ip.student_id.in_(purged_students))).correlate(None)

    counts = PurgeCounts()
    counts.audit_entries = delete_audit_entries(cutoff, purged_numbers, purged_ips)
    counts.outbox_mails = delete_outbox_mails(cutoff, purged_students)
    counts.ip_selections = delete_rows(delete(IpSelection).where(IpSelection.ip_id.in_(purged_ips)))
    counts.ip_versions = delete_rows(delete(IpVersion).where(IpVersion.ip_id.in_(purged_ips)))
    counts.ips = delete_rows(delete(Ip).where(Ip.id.in_(purged_ips)))
    counts.ias = delete_rows(delete(Ia).where(or_(Ia.year < oldest_year, Ia.student_id.in_(purged_students))))
    counts.owed_elements = delete_rows(
        delete(OwedElp).where(or_(OwedElp.year < oldest_year, OwedElp.student_id.in_(purged_students)))
    )
    counts.group_memberships = delete_memberships(purged_students)
    counts.waitlist_entries = delete_rows(delete(WaitlistEntry).where(WaitlistEntry.student_id.in_(purged_students)))
    counts.blocks = delete_rows(delete(Block).where(Block.student_id.in_(purged_students)))
    counts.acquired_elements = delete_rows(delete(AcquiredElp).where(AcquiredElp.student_id.in_(purged_students)))
    counts.other_rows = delete_other_references(purged_students)
    counts.students = delete_rows(delete(Student).where(Student.id.in_(purged_students)))
    db.session.expire_all()
    logger.info("Personal data purge before %s-%s: %s", oldest_year, oldest_year + 1, "; ".join(counts.as_lines()))
    return counts


def delete_rows(statement) -> int:
    return db.session.execute(statement.execution_options(synchronize_session=False)).rowcount


def delete_audit_entries(cutoff: datetime, purged_numbers, purged_ips) -> int:
    """Delete entries about students from before the cutoff, and every entry about a purged student or IP."""
    is_about_a_student = or_(
        AuditEntry.object_type.in_([STUDENT_OBJECT_TYPE, IP_OBJECT_TYPE]),
        AuditEntry.actor.in_(select(Student.number)),
    )
    purged_ip_texts = select(cast(Ip.id, String)).where(Ip.id.in_(purged_ips))
    is_about_purged = or_(
        AuditEntry.actor.in_(purged_numbers),
        (AuditEntry.object_type == STUDENT_OBJECT_TYPE) & AuditEntry.object_id.in_(purged_numbers),
        (AuditEntry.object_type == IP_OBJECT_TYPE) & AuditEntry.object_id.in_(purged_ip_texts),
    )
    return delete_rows(delete(AuditEntry).where(or_((AuditEntry.at < cutoff) & is_about_a_student, is_about_purged)))


def delete_outbox_mails(cutoff: datetime, purged_students) -> int:
    """Delete mails queued before the cutoff, and every mail to a purged student's address."""
    # NOTE: outbox rows carry no student id, so a purged student's mails are found by their
    # current address. Mails to an earlier address go only once they pass the cutoff.
    purged_addresses = select(func.lower(Student.email)).where(Student.id.in_(purged_students))
    return delete_rows(delete(OutboxMail).where(or_(
        OutboxMail.created_at < cutoff, func.lower(OutboxMail.recipient_address).in_(purged_addresses),
    )))


def delete_memberships(purged_students) -> int:
    """Delete the purged students' group memberships and give their seats back."""
    memberships = db.session.scalars(
        select(GroupMembership).where(GroupMembership.student_id.in_(purged_students))
    ).all()
    for membership in memberships:
        give_back_seat(membership.group_id)
        db.session.delete(membership)
    db.session.flush()
    return len(memberships)


def delete_other_references(purged_students) -> dict[str, int]:
    """Delete rows of tables not handled above that point at a purged student, children first.

    Tables added later (the reminders, for example) are covered without a change here. If a row
    that another table still points at is deleted, the statement fails and the purge rolls back.
    """
    handled = {
        model.__table__ for model in (
            Ia, Ip, Block, AcquiredElp, OwedElp, GroupMembership, WaitlistEntry, Student,
        )
    }
    student_id_column = Student.__table__.c.id
    deleted = {}
    for table in reversed(db.metadata.sorted_tables):
        if table in handled:
            continue
        for column in table.columns:
            if any(foreign_key.column is student_id_column for foreign_key in column.foreign_keys):
                count = delete_rows(table.delete().where(column.in_(purged_students)))
                if count:
                    deleted[table.name] = deleted.get(table.name, 0) + count
    return deleted
