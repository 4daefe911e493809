"""The logged-in staff member and the CIP-scoped access checks every staff route goes through."""

from flask import abort, session

from ..extensions import db
from ..models import Cip, StaffUser


def current_staff() -> StaffUser | None:
    staff_id = session.get("staff_id")
    if not staff_id:
        return None
    staff = db.session.get(StaffUser, staff_id)
    return staff if staff is not None and staff.is_active else None


def log_in_staff(staff: StaffUser) -> None:
    """Start a fresh session for the staff member, dropping whatever the previous user left."""
    session.clear()
    session["staff_id"] = staff.id


def require_cip(cip_id: int) -> Cip:
    """Return the CIP if the staff member manages it; 404 otherwise, so other CIPs stay invisible."""
    staff = current_staff()
    cip = db.session.get(Cip, cip_id)
    if cip is None or staff is None or not staff.can_manage(cip.id):
        abort(404)
    return cip


def require_admin() -> StaffUser:
    staff = current_staff()
    if staff is None or not staff.is_admin:
        abort(403)
    return staff


def visible_cips() -> list[Cip]:
    """Return the CIPs the staff member may see: all for an administrator."""
    from sqlalchemy import select

    staff = current_staff()
    if staff.is_admin:
        return list(db.session.scalars(select(Cip).order_by(Cip.code)))
    return list(staff.cips)
