"""Web IP settings the staff manage: a CIP's remote access, campaigns, their VETs and their elements.

Every change writes an audit entry in the same transaction. Functions flush but never commit.
"""

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime

from flask_babel import gettext as _
from sqlalchemy import delete, func, or_, select

from ..extensions import db
from ..models import ASSIGNMENT_MODES, Campaign, CampaignCollection, CampaignElp, Cip, Group, GroupCollection, Ip, Vet
from . import clock
from .audit import record_audit
from .groups import set_capacity
from .structure_admin import structure_elp_ids
from .tree import Tree, TreeElement

logger = logging.getLogger(__name__)


class CampaignInvalid(Exception):
    """Raised when the campaign's values break a rule. errors maps each form field name to its message."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(errors.values()))
        self.errors = errors


class CampaignHasIps(Exception):
    """Deleting the campaign would detach IPs that the staff have not confirmed."""

    def __init__(self, ip_count: int):
        super().__init__(f"campaign has {ip_count} IP(s)")
        self.ip_count = ip_count


@dataclass
class CampaignValues:
    """A campaign as staff type it, with naive Europe/Paris local dates."""

    code: str
    label: str
    opens_at_local: datetime
    closes_at_local: datetime
    allows_partial: bool


def set_web_access(cip: Cip, is_web_open: bool, actor: str) -> bool:
    """Switch the CIP's "accès à distance" and return whether it changed."""
    if cip.is_web_open == is_web_open:
        return False
    record_audit(actor, "set_web_access", "cip", cip.code, {"is_web_open": cip.is_web_open}, {"is_web_open": is_web_open})
    cip.is_web_open = is_web_open
    db.session.flush()
    logger.info("Staff %s set web access of CIP %s to %s", actor, cip.code, is_web_open)
    return True


def academic_year_dates(year: int) -> tuple[date, date]:
    """Return the first and last day of the academic year that starts in year."""
    return date(year, 9, 1), date(year + 1, 8, 31)


def check_campaign_values(values: CampaignValues, campaign: Campaign | None = None) -> dict[str, str]:
    """Return a message per invalid field: dates in order and in the current academic year, code unused."""
    errors: dict[str, str] = {}
    year = clock.current_year()
    first_day, last_day = academic_year_dates(year)
    outside_year = _(
        "Choisissez une date de l'année universitaire %(year)s, entre le %(first)s et le %(last)s.",
        year=clock.year_label(year), first=first_day.strftime("%d/%m/%Y"), last=last_day.strftime("%d/%m/%Y"),
    )
    if not first_day <= values.opens_at_local.date() <= last_day:
        errors["opens_at"] = outside_year
    if not first_day <= values.closes_at_local.date() <= last_day:
        errors["closes_at"] = outside_year
    elif values.closes_at_local <= values.opens_at_local:
        errors["closes_at"] = _("La fermeture doit être postérieure à l'ouverture.")

    same_code = select(Campaign.id).where(Campaign.code == values.code)
    if campaign is not None:
        same_code = same_code.where(Campaign.id != campaign.id)
    if db.session.scalar(same_code) is not None:
        errors["code"] = _("Le code %(code)s est déjà pris par une autre campagne.", code=values.code)
    return errors


def describe_campaign(campaign: Campaign) -> dict:
    """Return the campaign's settings as the audit trail stores them, dates in local time."""
    return {
        "code": campaign.code,
        "label": campaign.label,
        "opens_at": clock.to_local(campaign.opens_at).strftime("%Y-%m-%d %H:%M"),
        "closes_at": clock.to_local(campaign.closes_at).strftime("%Y-%m-%d %H:%M"),
        "allows_partial": campaign.allows_partial,
    }


def create_campaign(cip: Cip, values: CampaignValues, actor: str) -> Campaign:
    """Add a campaign to the CIP. Raises CampaignInvalid, writing nothing, when a value breaks a rule."""
    errors = check_campaign_values(values)
    if errors:
        raise CampaignInvalid(errors)
    campaign = Campaign(cip_id=cip.id)
    _apply_values(campaign, values)
    db.session.add(campaign)
    db.session.flush()
    record_audit(actor, "create_campaign", "campaign", campaign.id, None, describe_campaign(campaign))
    logger.info("Staff %s created campaign %s in CIP %s", actor, campaign.code, cip.code)
    return campaign


def update_campaign(campaign: Campaign, values: CampaignValues, actor: str) -> bool:
    """Change the campaign's settings and return whether anything changed. Raises CampaignInvalid."""
    errors = check_campaign_values(values, campaign)
    if errors:
        raise CampaignInvalid(errors)
    before = describe_campaign(campaign)
    _apply_values(campaign, values)
    after = describe_campaign(campaign)
    if before == after:
        return False
    db.session.flush()
    record_audit(actor, "update_campaign", "campaign", campaign.id, before, after)
    logger.info("Staff %s updated campaign %s", actor, campaign.code)
    return True


def _apply_values(campaign: Campaign, values: CampaignValues) -> None:
    campaign.code = values.code
    campaign.label = values.label
    campaign.opens_at = clock.local_to_utc(values.opens_at_local)
    campaign.closes_at = clock.local_to_utc(values.closes_at_local)
    campaign.allows_partial = values.allows_partial


def initialise_campaign(campaign: Campaign, vet_ids: set[int], actor: str) -> bool:
    """Make vet_ids the VETs the campaign covers and return whether the set changed.

    Only VETs of the campaign's CIP count. The elements assigned on a VET that is dropped
    stay recorded, so initialising that VET again brings them back.
    """
    vets = db.session.scalars(
        select(Vet).where(Vet.cip_id == campaign.cip_id, Vet.id.in_(vet_ids)).order_by(Vet.code, Vet.version)
    ).all()
    before = sorted(vet.full_code for vet in campaign.vets)
    after = sorted(vet.full_code for vet in vets)
    if before == after:
        return False
    campaign.vets = list(vets)
    db.session.flush()
    record_audit(actor, "initialise_campaign", "campaign", campaign.id, {"vets": before}, {"vets": after})
    logger.info("Staff %s initialised campaign %s on %d VET(s)", actor, campaign.code, len(vets))
    return True


def assigned_elp_ids(campaign: Campaign, vet: Vet) -> set[int]:
    return set(
        db.session.scalars(
            select(CampaignElp.elp_id).where(CampaignElp.campaign_id == campaign.id, CampaignElp.vet_id == vet.id)
        )
    )


def walk_with_ancestors(tree: Tree) -> Iterator[tuple[TreeElement, tuple[TreeElement, ...]]]:
    """Yield every place of the tree with the elements above it, the VET's child first."""

    def visit(lists, ancestors):
        for tree_list in lists:
            for element in tree_list.elements:
                yield element, ancestors
                yield from visit(element.lists, ancestors + (element,))

    yield from visit(tree.lists, ())


def assign_elements(campaign: Campaign, tree: Tree, requested_elp_ids: set[int], actor: str) -> bool:
    """Assign the campaign to the ticked elements of the VET's tree and return whether anything changed.

    tree is the VET's whole tree (build_tree without a campaign). Compared with what is
    assigned now, a newly ticked element brings its path (its ancestors in this VET), and a
    newly unticked element takes what is beneath it along. A newly ticked element wins: it
    brings its path back even if the same request unticked an ancestor. Assignments of ELPs
    absent from the tree (suspended, or under a closed link) are left as they are.
    """
    places = list(walk_with_ancestors(tree))
    codes = {element.elp_id: element.code for element, _ancestors in places}
    current = assigned_elp_ids(campaign, tree.vet) & codes.keys()
    requested = requested_elp_ids & codes.keys()
    unticked = current - requested
    ticked = requested - current

    result = set(current)
    for element, ancestors in places:
        if element.elp_id in unticked or any(a.elp_id in unticked for a in ancestors):
            result.discard(element.elp_id)
    for element, ancestors in places:
        if element.elp_id in ticked:
            result.add(element.elp_id)
            result.update(a.elp_id for a in ancestors)
    if result == current:
        return False

    removed = current - result
    if removed:
        db.session.execute(
            delete(CampaignElp).where(
                CampaignElp.campaign_id == campaign.id, CampaignElp.vet_id == tree.vet.id,
                CampaignElp.elp_id.in_(removed),
            )
        )
    for elp_id in sorted(result - current):
        db.session.add(CampaignElp(campaign_id=campaign.id, vet_id=tree.vet.id, elp_id=elp_id))
    db.session.flush()
    record_audit(
        actor, "assign_campaign", "campaign", campaign.id,
        {"vet": tree.vet.full_code, "elements": sorted(codes[i] for i in current)},
        {"vet": tree.vet.full_code, "elements": sorted(codes[i] for i in result)},
    )
    logger.info(
        "Staff %s assigned campaign %s on VET %s: %d element(s) added, %d removed",
        actor, campaign.code, tree.vet.full_code, len(result - current), len(removed),
    )
    return True


def count_ips(campaign: Campaign) -> int:
    return db.session.scalar(select(func.count()).select_from(Ip).where(Ip.campaign_id == campaign.id))


def campaign_ips(campaign: Campaign) -> list[Ip]:
    return list(db.session.scalars(select(Ip).where(Ip.campaign_id == campaign.id).order_by(Ip.id)))


def delete_campaign(campaign: Campaign, actor: str, confirmed_ip_count: int | None = None) -> list[Ip]:
    """Delete the campaign, keep its IPs with campaign_id NULL, and return those IPs.

    confirmed_ip_count is the number of IPs the staff saw and agreed to detach. Raises
    CampaignHasIps, writing nothing, when the campaign has IPs and that number differs, so an
    IP created after the confirmation page was shown is never detached unseen.
    """
    ips = campaign_ips(campaign)
    if ips and confirmed_ip_count != len(ips):
        raise CampaignHasIps(len(ips))
    detached = [{"ip": ip.id, "student": ip.student.number, "vet": ip.vet.full_code} for ip in ips]
    for ip in ips:
        ip.campaign_id = None
        record_audit(actor, "detach_ip", "ip", ip.id, {"campaign": campaign.code}, {"campaign": None})
    db.session.flush()

    db.session.execute(delete(CampaignElp).where(CampaignElp.campaign_id == campaign.id))
    db.session.execute(delete(CampaignCollection).where(CampaignCollection.campaign_id == campaign.id))
    before = describe_campaign(campaign) | {"cip": campaign.cip.code, "vets": sorted(v.full_code for v in campaign.vets)}
    record_audit(actor, "delete_campaign", "campaign", campaign.id, before, {"detached_ips": detached})
    db.session.delete(campaign)  # the ORM also deletes its campaign_vet rows
    db.session.flush()
    logger.info("Staff %s deleted campaign %s, detaching %d IP(s)", actor, before["code"], len(ips))
    return ips


def vet_collections(vet: Vet) -> list[GroupCollection]:
    """Return the group collections of the VET and of every ELP in its structure, the VET's first."""
    elp_ids = structure_elp_ids(vet)
    collections = db.session.scalars(
        select(GroupCollection).where(or_(GroupCollection.vet_id == vet.id, GroupCollection.elp_id.in_(elp_ids)))
    ).all()
    return sorted(collections, key=lambda c: (c.vet_id is None, c.elp.code if c.elp else "", c.code))


def collection_setting(campaign: Campaign, collection: GroupCollection) -> CampaignCollection | None:
    return db.session.get(CampaignCollection, (campaign.id, collection.id))


def set_collection_mode(
    campaign: Campaign, collection: GroupCollection, mode: str, has_waitlist: bool, actor: str
) -> bool:
    """Set who places students in the collection's groups during the campaign, and return whether it changed."""
    if mode not in ASSIGNMENT_MODES:
        raise ValueError(f"unknown assignment mode {mode!r}")
    setting = collection_setting(campaign, collection)
    # A collection without a row is placed by the staff, without a waitlist.
    before = {"collection": collection.code, "mode": "staff", "has_waitlist": False}
    if setting is None:
        setting = CampaignCollection(campaign_id=campaign.id, collection_id=collection.id)
        db.session.add(setting)
    else:
        before |= {"mode": setting.mode, "has_waitlist": setting.has_waitlist}
    after = {"collection": collection.code, "mode": mode, "has_waitlist": has_waitlist}
    setting.mode = mode
    setting.has_waitlist = has_waitlist
    db.session.flush()
    if before == after:
        return False
    record_audit(actor, "set_collection_mode", "campaign", campaign.id, before, after)
    logger.info("Staff %s set collection %s of campaign %s to mode %s", actor, collection.code, campaign.code, mode)
    return True


def set_group_capacity(
    group: Group, capacity: int, intermediate_capacity: int | None, actor: str, now_utc: datetime
) -> bool:
    """Change the group's capacities through the groups service and return whether they changed.

    Students already placed keep their seats when the capacity drops below the seats taken.
    Raises ValueError with a French message when the intermediate capacity exceeds the capacity.
    """
    before = {"group": group.code, "capacity": group.capacity, "intermediate_capacity": group.intermediate_capacity}
    after = {"group": group.code, "capacity": capacity, "intermediate_capacity": intermediate_capacity}
    if before == after:
        return False
    set_capacity(group, capacity, intermediate_capacity, now_utc)
    record_audit(actor, "set_group_capacity", "group", group.id, before, after)
    logger.info("Staff %s set capacity of group %s to %s (intermediate %s)", actor, group.id, capacity, intermediate_capacity)
    return True
