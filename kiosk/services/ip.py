"""The IP of one student on one VET: draft selection, validation and contract versions."""

import logging
from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models import AcquiredElp, Campaign, Ia, Ip, IpSelection, IpVersion, OwedElp
from . import clock
from .eligibility import check_eligibility
from .rules import Evaluation, SelectionRejected, check_requested_keys, evaluate, format_ects
from .tree import Tree, build_tree, parse_key

logger = logging.getLogger(__name__)


class IpClosed(Exception):
    """The web IP is not possible for this IA now; messages says every reason."""

    def __init__(self, messages: list[str]):
        super().__init__("; ".join(messages))
        self.messages = messages


class IpIncomplete(Exception):
    """A validation that the rules refuse; the evaluation holds the message of each list."""

    def __init__(self, evaluation: Evaluation, messages: list[str]):
        super().__init__("; ".join(messages))
        self.evaluation = evaluation
        self.messages = messages


@dataclass
class IpContext:
    """What a step of the IP needs: the IA, its open campaign, the IP row and the tree."""

    ia: Ia
    campaign: Campaign
    ip: Ip
    tree: Tree


def acquired_elp_ids(student_id: int) -> frozenset[int]:
    return frozenset(
        db.session.scalars(select(AcquiredElp.elp_id).where(AcquiredElp.student_id == student_id))
    )


def find_ip(ia: Ia) -> Ip | None:
    return db.session.scalar(
        select(Ip).where(Ip.student_id == ia.student_id, Ip.year == ia.year, Ip.vet_id == ia.vet_id)
    )


def open_ip(ia: Ia, now_utc: datetime) -> IpContext:
    """Check eligibility, then load or create the draft IP and build the offered tree.

    Raises IpClosed without writing anything when the student may not do the IP now.
    """
    eligibility = check_eligibility(ia, now_utc)
    if not eligibility.is_eligible:
        raise IpClosed(eligibility.reasons)
    campaign = eligibility.campaign
    ip = find_ip(ia) or _create_ip(ia, campaign, now_utc)
    if ip.campaign_id != campaign.id:
        ip.campaign_id = campaign.id
    tree = build_tree(
        ia.vet, clock.to_local(now_utc).date(), campaign.id, acquired_elp_ids(ia.student_id)
    )
    return IpContext(ia=ia, campaign=campaign, ip=ip, tree=tree)


def _create_ip(ia: Ia, campaign: Campaign, now_utc: datetime) -> Ip:
    """Insert the IP; when another request inserted it first, the unique constraint says so."""
    ip = Ip(
        student_id=ia.student_id, year=ia.year, vet_id=ia.vet_id, campaign_id=campaign.id,
        status="draft", origin="web", created_at=now_utc, updated_at=now_utc,
    )
    try:
        with db.session.begin_nested():
            db.session.add(ip)
    except IntegrityError:
        existing = find_ip(ia)
        if existing is None:
            raise
        return existing
    logger.info("IP %s created for student %s on VET %s", ip.id, ia.student_id, ia.vet_id)
    return ip


def stored_keys(ip: Ip) -> set[str]:
    return {f"{s.parent_elp_id or 0}-{s.lse_id}-{s.elp_id}" for s in ip.selections}


def save_selection(context: IpContext, requested: set[str], now_utc: datetime) -> Evaluation:
    """Store the ticked choice elements as the draft, after rejecting forged or acquired ones.

    Elements under a parent that is not chosen are dropped, since their list does not count.
    """
    check_requested_keys(context.tree, requested)
    evaluation = evaluate(context.tree, requested)
    ip = context.ip
    if stored_keys(ip) != evaluation.selected_keys:
        db.session.execute(delete(IpSelection).where(IpSelection.ip_id == ip.id))
        for key in sorted(evaluation.selected_keys):
            parent_elp_id, lse_id, elp_id = parse_key(key)
            db.session.add(IpSelection(ip_id=ip.id, parent_elp_id=parent_elp_id, lse_id=lse_id, elp_id=elp_id))
        ip.updated_at = now_utc
        db.session.expire(ip, ["selections"])
    return evaluation


def validate_ip(
    context: IpContext, requested: set[str], is_partial: bool, actor: str, now_utc: datetime
) -> IpVersion:
    """Save the selection and freeze it as a new contract version (complete or partial).

    A complete validation needs every list and bound met. A partial one needs the campaign to
    allow it and nothing beyond a maximum. Raises IpIncomplete and writes nothing otherwise.
    """
    check_requested_keys(context.tree, requested)
    evaluation = evaluate(context.tree, requested)
    if is_partial:
        if not context.campaign.allows_partial:
            raise IpIncomplete(evaluation, [_("Cette campagne n'accepte pas de validation partielle.")])
        if evaluation.has_excess:
            raise IpIncomplete(evaluation, evaluation.problems())
    elif not evaluation.is_complete:
        raise IpIncomplete(evaluation, evaluation.problems())

    save_selection(context, requested, now_utc)
    ip = context.ip
    status = "complete" if evaluation.is_complete else "partial"
    ip.version_count += 1
    ip.status = status
    ip.updated_at = now_utc
    version = IpVersion(
        ip=ip, number=ip.version_count, status=status, validated_at=now_utc, validated_by=actor,
        contract=build_contract_data(context, evaluation, ip.version_count, status, now_utc),
    )
    db.session.add(version)
    db.session.flush()
    logger.info("IP %s validated as %s, version %s, by %s", ip.id, status, version.number, actor)
    return version


def build_contract_data(
    context: IpContext, evaluation: Evaluation, number: int, status: str, now_utc: datetime
) -> dict:
    """Freeze the contract as plain data, so later changes to the structure never alter it."""
    ia, ip, tree = context.ia, context.ip, context.tree
    student = ia.student
    rows = []
    semesters = []
    for depth, element in tree.walk():
        if element.key not in evaluation.chosen_keys:
            continue
        if element.is_acquired:
            situation = "acquired"
        elif element.is_mandatory:
            situation = "mandatory"
        else:
            situation = "chosen"
        credited = evaluation.credited_ects[element.key]
        rows.append({
            "depth": depth, "code": element.code, "label": element.label,
            "nature": element.nature_code, "ects": format_ects(credited), "situation": situation,
        })
        if element.is_semester:
            semesters.append({"label": element.label, "ects": format_ects(credited)})
    owed = db.session.scalars(
        select(OwedElp).where(OwedElp.student_id == student.id, OwedElp.year == ia.year)
    ).all()
    return {
        "university": current_app.config["KIOSK_UNIVERSITY_NAME"],
        "year": clock.year_label(ia.year),
        "student": {
            "number": student.number, "first_name": student.first_name,
            "last_name": student.last_name, "birth_date": student.birth_date.isoformat(),
        },
        "vet": {"code": ia.vet.code, "version": ia.vet.version, "label": ia.vet.label},
        "campaign": context.campaign.label,
        "rows": rows,
        "owed": [
            {"code": o.elp.code, "label": o.elp.label, "nature": o.elp.nature_code, "ects": format_ects(o.elp.ects)}
            for o in owed
        ],
        "semesters": semesters,
        "total_ects": format_ects(evaluation.total_ects),
        "status": status,
        "version": number,
        "validated_at": clock.to_local(now_utc).isoformat(timespec="minutes"),
        "ip_id": ip.id,
    }


__all__ = [
    "IpClosed", "IpContext", "IpIncomplete", "SelectionRejected", "acquired_elp_ids", "find_ip",
    "open_ip", "save_selection", "stored_keys", "validate_ip",
]
