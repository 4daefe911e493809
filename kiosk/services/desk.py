"""The scolarité desk: find a student and do their IP on their behalf, through the student's services.

The desk applies the student's rules with two differences. Staff may act while the campaign is
closed (before it opens or after it closes), and the CIP's "accès à distance" switch, which
governs the web, does not apply. The IA must still be in order and no block may forbid
registration. Every change is audited against the staff login. Functions flush but never commit.
"""

import logging
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import func, or_, select

from ..extensions import db
from ..models import Group, Ia, IpVersion, Student, Vet
from . import clock
from .audit import record_audit
from .eligibility import active_blocks, find_campaign
from .groups import OfferedCollection, place_student
from .ip import IpClosed, IpContext, acquired_elp_ids, find_ip, save_selection, stored_keys, validate_ip
from .rules import Evaluation
from .tree import build_tree

logger = logging.getLogger(__name__)

SEARCH_LIMIT = 50


def visible_student_ids(cip_ids: list[int], year: int):
    """Select the ids of students with an IA of the year on a VET of the given CIPs."""
    return select(Ia.student_id).join(Vet, Vet.id == Ia.vet_id).where(Ia.year == year, Vet.cip_id.in_(cip_ids))


def search_students(text: str, cip_ids: list[int], year: int) -> list[Student]:
    """Find students by number or name among those the CIPs manage. Every word must match.

    NOTE: matching ignores case through SQL lower(), which SQLite applies to ASCII letters only,
    and does not ignore accents ("Lefevre" does not find "Lefèvre").
    """
    words = text.lower().split()
    if not words:
        return []
    query = select(Student).where(Student.id.in_(visible_student_ids(cip_ids, year)))
    for word in words:
        pattern = f"%{word}%"
        query = query.where(or_(
            Student.number.like(f"{word}%"),
            func.lower(Student.last_name).like(pattern),
            func.lower(Student.first_name).like(pattern),
        ))
    return list(db.session.scalars(query.order_by(Student.last_name, Student.first_name).limit(SEARCH_LIMIT)))


def desk_reasons(ia: Ia, now_utc: datetime) -> list[str]:
    """Return every reason why the desk may not do the IP for this IA (an empty list if it may)."""
    reasons = []
    if ia.state != "E" or ia.payment_state != "P":
        reasons.append(_(
            "L'inscription administrative n'est pas en règle (état %(state)s, paiement %(payment)s) : "
            "il faut une IA en cours (E) et payée (P).", state=ia.state, payment=ia.payment_state,
        ))
    for block in active_blocks(ia.student_id, clock.to_local(now_utc).date()):
        reasons.append(_("Un blocage interdit l'inscription : %(label)s.", label=block.block_code.label))
    if find_campaign(ia, now_utc) is None:
        reasons.append(_("Aucune campagne du CIP n'est initialisée sur cette formation."))
    return reasons


def open_desk_ip(ia: Ia, now_utc: datetime) -> IpContext:
    """Build the IP context for the desk: the student's tree in the VET's campaign, open or not.

    The campaign is the one open now, else the next to open, else the last closed. Raises
    IpClosed with every reason when the desk may not act. Writes nothing.
    """
    reasons = desk_reasons(ia, now_utc)
    if reasons:
        raise IpClosed(reasons)
    campaign = find_campaign(ia, now_utc)
    tree = build_tree(ia.vet, clock.to_local(now_utc).date(), campaign.id, acquired_elp_ids(ia.student_id))
    return IpContext(ia=ia, campaign=campaign, ip=find_ip(ia), tree=tree)


def selection_codes(context: IpContext, keys: set[str]) -> list[str]:
    """Name the selected places by ELP code for the audit trail (the key itself once withdrawn)."""
    elements = context.tree.elements_by_key
    return sorted(elements[key].code if key in elements else key for key in keys)


def save_desk_selection(context: IpContext, requested: set[str], actor: str, now_utc: datetime) -> Evaluation:
    """Save the draft as the student's save does. An IP that the desk creates gets origin "desk"."""
    is_new = context.ip is None
    before = stored_keys(context.ip)
    evaluation = save_selection(context, requested, now_utc)
    if is_new:
        context.ip.origin = "desk"
    if before != evaluation.selected_keys or is_new:
        db.session.flush()
        record_audit(
            actor, "desk_save_selection", "ip", context.ip.id,
            {"selection": selection_codes(context, before)},
            {"selection": selection_codes(context, evaluation.selected_keys)},
        )
        logger.info("Staff %s saved the draft of IP %s at the desk", actor, context.ip.id)
    return evaluation


def validate_desk_ip(
    context: IpContext, requested: set[str], is_partial: bool, actor: str, now_utc: datetime,
    base_version: int | None = None,
) -> IpVersion:
    """Validate as the student's validation does, with the staff login as validator and origin "desk".

    Raises what validate_ip raises (IpIncomplete, IpAlreadyValidated, SelectionRejected).
    """
    ip = context.ip
    before = {"status": ip.status, "version": ip.version_count} if ip is not None else None
    version = validate_ip(context, requested, is_partial, actor, now_utc, base_version)
    context.ip.origin = "desk"
    db.session.flush()
    record_audit(
        actor, "desk_validate_ip", "ip", context.ip.id, before,
        {"status": version.status, "version": version.number, "selection": selection_codes(context, set(requested))},
    )
    logger.info("Staff %s validated IP %s as version %s at the desk", actor, context.ip.id, version.number)
    return version


def place_in_group(student: Student, item: OfferedCollection, group: Group, actor: str, now_utc: datetime) -> None:
    """Seat the student in a group of an offered collection, whatever its mode. Raises GroupFull."""
    before = None
    if item.membership is not None:
        before = {"collection": item.collection.code, "group": db.session.get(Group, item.membership.group_id).code}
    place_student(student, group, actor, now_utc)
    record_audit(
        actor, "desk_place_group", "student", student.number, before,
        {"collection": item.collection.code, "group": group.code},
    )
    logger.info("Staff %s placed student %s in group %s at the desk", actor, student.id, group.id)
