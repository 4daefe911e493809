"""The IP of one student on one VET: draft selection, validation and contract versions."""

import logging
from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models import AcquiredElp, Campaign, Elp, Ia, Ip, IpSelection, IpVersion, OwedElp
from . import clock
from .eligibility import check_eligibility
from .groups import contract_groups, offered_collections, release_unchosen, settle_groups, unsettled_messages
from .rules import Evaluation, SelectionRejected, check_requested_keys, evaluate, format_ects
from .tree import Tree, build_tree, parse_key

logger = logging.getLogger(__name__)


class IpClosed(Exception):
    """The web IP is not possible for this IA now. messages lists every reason."""

    def __init__(self, messages: list[str]):
        super().__init__("; ".join(messages))
        self.messages = messages


class IpAlreadyValidated(Exception):
    """The IP moved past the version the form was loaded from: a double click, a retry or another tab."""

    def __init__(self, version: IpVersion | None):
        super().__init__(f"IP already validated as version {version.number if version else '?'}")
        self.version = version


class IpIncomplete(Exception):
    """A validation that the rules reject. The evaluation contains the message of each list."""

    def __init__(self, evaluation: Evaluation, messages: list[str]):
        super().__init__("; ".join(messages))
        self.evaluation = evaluation
        self.messages = messages


@dataclass
class IpContext:
    """The state one step of the IP works on: the IA, its open campaign, the IP row and the tree.

    ip is None until the student saves something: viewing the page writes nothing.
    """

    ia: Ia
    campaign: Campaign
    ip: Ip | None
    tree: Tree

    def ensure_ip(self, now_utc: datetime) -> Ip:
        if self.ip is None:
            self.ip = _create_ip(self.ia, self.campaign, now_utc)
        return self.ip


def acquired_elp_ids(student_id: int) -> frozenset[int]:
    return frozenset(
        db.session.scalars(select(AcquiredElp.elp_id).where(AcquiredElp.student_id == student_id))
    )


def find_ip(ia: Ia) -> Ip | None:
    return db.session.scalar(
        select(Ip).where(Ip.student_id == ia.student_id, Ip.year == ia.year, Ip.vet_id == ia.vet_id)
    )


def open_ip(ia: Ia, now_utc: datetime) -> IpContext:
    """Check eligibility, then load the IP if it exists and build the offered tree.

    Raises IpClosed when the student may not do the IP now. Writes nothing.
    """
    eligibility = check_eligibility(ia, now_utc)
    if not eligibility.is_eligible:
        raise IpClosed(eligibility.reasons)
    campaign = eligibility.campaign
    ip = find_ip(ia)
    tree = build_tree(
        ia.vet, clock.to_local(now_utc).date(), campaign.id, acquired_elp_ids(ia.student_id)
    )
    return IpContext(ia=ia, campaign=campaign, ip=ip, tree=tree)


def _create_ip(ia: Ia, campaign: Campaign, now_utc: datetime) -> Ip:
    """Insert the IP. When another request inserted it first, the unique constraint raises and that row is returned."""
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


def stored_keys(ip: Ip | None) -> set[str]:
    if ip is None:
        return set()
    return {f"{s.parent_elp_id or 0}-{s.lse_id}-{s.elp_id}" for s in ip.selections}


def withdrawn_labels(context: IpContext) -> list[str]:
    """Return the labels of draft elements the tree no longer offers (removed, suspended, unassigned)."""
    gone = stored_keys(context.ip) - context.tree.elements_by_key.keys()
    if not gone:
        return []
    elp_ids = {parse_key(key)[2] for key in gone}
    return sorted(db.session.scalars(select(Elp.label).where(Elp.id.in_(elp_ids))))


def save_selection(context: IpContext, requested: set[str], now_utc: datetime) -> Evaluation:
    """Store the ticked choice elements as the draft, after rejecting forged or acquired ones.

    Elements under a parent that is not chosen are dropped, since their list does not count.
    """
    check_requested_keys(context.tree, requested)
    evaluation = evaluate(context.tree, requested)
    ip = context.ensure_ip(now_utc)
    ip.campaign_id = context.campaign.id
    if stored_keys(ip) != evaluation.selected_keys:
        db.session.execute(delete(IpSelection).where(IpSelection.ip_id == ip.id))
        rows = []
        for key in sorted(evaluation.selected_keys):
            parent_elp_id, lse_id, elp_id = parse_key(key)
            rows.append({"ip_id": ip.id, "parent_elp_id": parent_elp_id, "lse_id": lse_id, "elp_id": elp_id})
        if rows:
            # One executemany whatever the number of elements, where adding objects would send an
            # INSERT per row on SQLite.
            db.session.execute(insert(IpSelection), rows)
        ip.updated_at = now_utc
        db.session.expire(ip, ["selections"])
    return evaluation


def validate_ip(
    context: IpContext, requested: set[str], is_partial: bool, actor: str, now_utc: datetime,
    base_version: int | None = None,
) -> IpVersion:
    """Save the selection and freeze it as a new contract version (complete or partial).

    A complete validation needs every list and bound met. A partial one needs the campaign to
    allow it and nothing beyond a maximum. Raises IpIncomplete and writes nothing otherwise.

    base_version is the version the form was loaded from. The new version takes the number
    base_version + 1 through a conditional update, so of two submissions of the same form
    (a double click, a retry, a second tab) only the first creates a version; the second
    raises IpAlreadyValidated.
    """
    check_requested_keys(context.tree, requested)
    evaluation = evaluate(context.tree, requested)
    student = context.ia.student
    offered = offered_collections(context.tree, evaluation.chosen_keys, context.campaign.id, student.id)
    if is_partial:
        if not context.campaign.allows_partial:
            raise IpIncomplete(evaluation, [_("Cette campagne n'accepte pas de validation partielle.")])
        if evaluation.has_excess:
            raise IpIncomplete(evaluation, evaluation.problems())
    else:
        problems = evaluation.problems() + unsettled_messages(offered)
        if problems:
            raise IpIncomplete(evaluation, problems)

    ip = context.ensure_ip(now_utc)
    if base_version is None:
        base_version = ip.version_count
    elif not 0 <= base_version <= ip.version_count:
        # No form ever carried this number (a forged one): nothing to claim. This also keeps
        # integers past the database's range, such as 2**63, out of the UPDATE below.
        raise IpAlreadyValidated(latest_version(ip))
    number = base_version + 1
    status = "complete" if evaluation.is_complete and not unsettled_messages(offered) else "partial"
    claimed = db.session.execute(
        update(Ip)
        .where(Ip.id == ip.id, Ip.version_count == base_version)
        .values(version_count=number, status=status, updated_at=now_utc)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        db.session.expire(ip)
        raise IpAlreadyValidated(latest_version(ip))
    db.session.expire(ip, ["version_count", "status", "updated_at"])
    save_selection(context, requested, now_utc)
    release_unchosen(context.tree, evaluation.chosen_keys, student.id, now_utc)
    settle_groups(offered, student, now_utc)
    contract = build_contract_data(context, evaluation, number, status, now_utc)
    contract["groups"] = contract_groups(offered)
    version = IpVersion(
        ip=ip, number=number, status=status, validated_at=now_utc, validated_by=actor, contract=contract,
    )
    db.session.add(version)
    db.session.flush()
    logger.info("IP %s validated as %s, version %s, by %s", ip.id, status, version.number, actor)
    return version


def latest_version(ip: Ip) -> IpVersion | None:
    return db.session.scalar(
        select(IpVersion).where(IpVersion.ip_id == ip.id).order_by(IpVersion.number.desc()).limit(1)
    )


def build_contract_data(
    context: IpContext, evaluation: Evaluation, number: int, status: str, now_utc: datetime
) -> dict:
    """Freeze the contract as plain data, so later changes to the structure never alter it."""
    ia, ip, tree = context.ia, context.ip, context.tree
    student = ia.student
    rows = []
    semesters = []
    chosen = [(depth, element) for depth, element in tree.walk() if element.key in evaluation.chosen_keys]
    # The parent of a list may be a fictive ELP, which the tree does not show, so its code is read here.
    parent_ids = {element.parent_list.parent_elp_id for _depth, element in chosen} - {None}
    parent_codes = dict(db.session.execute(select(Elp.id, Elp.code).where(Elp.id.in_(parent_ids))).all()) if parent_ids else {}
    for depth, element in chosen:
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
            "list_code": element.parent_list.code,
            "parent_code": parent_codes.get(element.parent_list.parent_elp_id),
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
    "IpAlreadyValidated", "IpClosed", "IpContext", "IpIncomplete", "latest_version", "SelectionRejected", "acquired_elp_ids", "find_ip",
    "open_ip", "save_selection", "stored_keys", "validate_ip",
]
