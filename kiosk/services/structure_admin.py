"""The structure as staff see and change it: every list and element of a VET, suspended ones included.

Unlike kiosk.services.tree, nothing is filtered out: suspended ELPs, fictive ELPs and links past
their closing date are kept and marked. Changes write an audit entry; functions flush but never
commit. Removing an ELP from a list deletes only the LseMember row, so drafts (IpSelection rows)
that name it keep their foreign keys, and frozen contract versions are plain data that no
structure change alters.
"""

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from ..extensions import db
from ..models import Elp, ListLink, Lse, LseMember, Vet
from .audit import record_audit
from .rules import format_ects

logger = logging.getLogger(__name__)


class StructureInvalid(Exception):
    """Raised for a change that the structure rules reject. errors maps each form field name to its message."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(errors.values()))
        self.errors = errors


@dataclass(eq=False)
class StructureList:
    """A list as it hangs at one place of a VET's structure, with its link."""

    link: ListLink
    elements: list["StructureElement"] = field(default_factory=list)
    is_closed: bool = False  # True after the link's closing date, when students no longer see the list

    @property
    def lse(self) -> Lse:
        return self.link.lse


@dataclass(eq=False)
class StructureElement:
    """An ELP at one place of a VET's structure."""

    elp: Elp
    lists: list[StructureList] = field(default_factory=list)
    is_cycle: bool = False  # True when the ELP is also its own ancestor here, so its lists are not repeated


def load_links(vet: Vet) -> dict[int | None, list[ListLink]]:
    """Load every link of the VET's structure, grouped by parent ELP id (None for the VET)."""
    grouped: dict[int | None, list[ListLink]] = defaultdict(list)
    where = ListLink.vet_id == vet.id
    seen_parents: set[int] = set()
    while where is not None:
        links = db.session.scalars(
            select(ListLink).where(where)
            .options(selectinload(ListLink.lse).selectinload(Lse.members).selectinload(LseMember.elp))
            .order_by(ListLink.position, ListLink.id)
        ).all()
        parents: set[int] = set()
        for link in links:
            grouped[link.parent_elp_id].append(link)
            parents.update(member.elp_id for member in link.lse.members)
        parents -= seen_parents
        seen_parents |= parents
        where = ListLink.parent_elp_id.in_(parents) if parents else None
    return grouped


def load_structure(vet: Vet, today: date) -> list[StructureList]:
    """Return the VET's lists with all their elements, recursively, in stored order."""
    links_by_parent = load_links(vet)

    def build(parent_id: int | None, ancestors: frozenset[int]) -> list[StructureList]:
        lists = []
        for link in links_by_parent.get(parent_id, []):
            structure_list = StructureList(link=link, is_closed=link.closes_on is not None and link.closes_on < today)
            for member in link.lse.members:
                element = StructureElement(elp=member.elp, is_cycle=member.elp_id in ancestors)
                if not element.is_cycle:
                    element.lists = build(member.elp_id, ancestors | {member.elp_id})
                structure_list.elements.append(element)
            lists.append(structure_list)
        return lists

    return build(None, frozenset())


def structure_elp_ids(vet: Vet) -> set[int]:
    """Return the ids of every ELP in the VET's structure, whatever its state."""
    return {member.elp_id for links in load_links(vet).values() for link in links for member in link.lse.members}


def link_belongs_to(link: ListLink, vet: Vet) -> bool:
    return link.vet_id == vet.id or (link.parent_elp_id is not None and link.parent_elp_id in structure_elp_ids(vet))


def vets_using_elp(elp_id: int) -> list[Vet]:
    """Return the VETs whose structure contains the ELP, walking up the lists that hold it."""
    vet_ids: set[int] = set()
    seen: set[int] = set()
    pending = {elp_id}
    while pending:
        seen |= pending
        lse_ids = select(LseMember.lse_id).where(LseMember.elp_id.in_(pending))
        links = db.session.scalars(select(ListLink).where(ListLink.lse_id.in_(lse_ids))).all()
        vet_ids.update(link.vet_id for link in links if link.vet_id is not None)
        pending = {link.parent_elp_id for link in links if link.parent_elp_id is not None} - seen
    return _vets(vet_ids)


def vets_using_lse(lse: Lse) -> list[Vet]:
    """Return the VETs whose structure contains the list, at any depth."""
    links = db.session.scalars(select(ListLink).where(ListLink.lse_id == lse.id)).all()
    vet_ids = {link.vet_id for link in links if link.vet_id is not None}
    for link in links:
        if link.parent_elp_id is not None:
            vet_ids.update(vet.id for vet in vets_using_elp(link.parent_elp_id))
    return _vets(vet_ids)


def _vets(vet_ids: set[int]) -> list[Vet]:
    if not vet_ids:
        return []
    return list(db.session.scalars(select(Vet).where(Vet.id.in_(vet_ids)).order_by(Vet.code, Vet.version)))


ELP_FIELDS = ("label", "ects", "is_suspended", "min_chosen", "max_chosen", "min_ects", "max_ects")


def describe_elp(elp: Elp) -> dict:
    """Return the editable fields of the ELP as the audit trail stores them (ECTS as text)."""
    values = {name: getattr(elp, name) for name in ELP_FIELDS}
    for name in ("ects", "min_ects", "max_ects"):
        if values[name] is not None:
            values[name] = format_ects(values[name])
    return values


def update_elp(elp: Elp, values: dict, actor: str) -> bool:
    """Change the ELP's label, ECTS, suspension and node bounds, and return whether anything changed.

    values has the keys of ELP_FIELDS. Raises StructureInvalid, writing nothing, when a
    minimum exceeds its maximum. The ELP may be shared: the change applies in every VET.
    """
    errors = {}
    if _exceeds(values["min_chosen"], values["max_chosen"]):
        errors["max_chosen"] = _("Le maximum d'éléments choisis doit être supérieur ou égal au minimum.")
    if _exceeds(values["min_ects"], values["max_ects"]):
        errors["max_ects"] = _("Le maximum d'ECTS doit être supérieur ou égal au minimum.")
    if errors:
        raise StructureInvalid(errors)
    before = describe_elp(elp)
    for name in ELP_FIELDS:
        setattr(elp, name, values[name])
    after = describe_elp(elp)
    if before == after:
        return False
    db.session.flush()
    record_audit(actor, "update_elp", "elp", elp.code, before, after)
    logger.info("Staff %s updated ELP %s", actor, elp.code)
    return True


def _exceeds(minimum: int | Decimal | None, maximum: int | Decimal | None) -> bool:
    return minimum is not None and maximum is not None and minimum > maximum


def describe_link(link: ListLink) -> dict:
    return {
        "list": link.lse.code,
        "min_chosen": link.min_chosen,
        "max_chosen": link.max_chosen,
        "closes_on": link.closes_on.isoformat() if link.closes_on else None,
    }


def update_link(link: ListLink, min_chosen: int, max_chosen: int | None, closes_on: date | None, actor: str) -> bool:
    """Change a list link's rule and closing date, and return whether anything changed.

    The rule (min and max) only applies to X and F lists. An F list is optional, so its
    minimum stays 0. Raises StructureInvalid, writing nothing, on a bad rule.
    """
    lse_type = link.lse.type
    if lse_type == "O":
        min_chosen, max_chosen = link.min_chosen, link.max_chosen
    elif lse_type == "F":
        min_chosen = 0
    errors = {}
    if min_chosen < 0:
        errors["min_chosen"] = _("Le minimum ne peut pas être négatif.")
    elif _exceeds(min_chosen, max_chosen):
        errors["max_chosen"] = _("Le maximum doit être supérieur ou égal au minimum (%(min)s).", min=min_chosen)
    if errors:
        raise StructureInvalid(errors)
    before = describe_link(link)
    link.min_chosen, link.max_chosen, link.closes_on = min_chosen, max_chosen, closes_on
    after = describe_link(link)
    if before == after:
        return False
    db.session.flush()
    record_audit(actor, "update_list_link", "list_link", link.id, before, after)
    logger.info("Staff %s updated list link %s", actor, link.id)
    return True


def add_list_member(link: ListLink, elp: Elp, actor: str) -> LseMember:
    """Append an existing ELP to the link's list. Raises StructureInvalid if it is there already or would loop.

    The list may be shared: the ELP appears wherever the list hangs.
    """
    lse = link.lse
    if any(member.elp_id == elp.id for member in lse.members):
        raise StructureInvalid({"elp_code": _("L'élément %(code)s est déjà dans cette liste.", code=elp.code)})
    if link.parent_elp_id is not None and (
        link.parent_elp_id == elp.id or link.parent_elp_id in descendant_elp_ids(elp.id)
    ):
        raise StructureInvalid({
            "elp_code": _("L'élément %(code)s contient déjà cette liste : l'y ajouter formerait une boucle.", code=elp.code)
        })
    position = db.session.scalar(select(func.coalesce(func.max(LseMember.position), -1)).where(LseMember.lse_id == lse.id))
    member = LseMember(elp=elp, position=position + 1)
    lse.members.append(member)
    db.session.flush()
    record_audit(actor, "add_list_member", "lse", lse.code, None, {"elp": elp.code})
    logger.info("Staff %s added ELP %s to list %s", actor, elp.code, lse.code)
    return member


def remove_list_member(link: ListLink, elp: Elp, actor: str) -> None:
    """Take the ELP out of the link's list, wherever the list hangs.

    Drafts that selected it keep their IpSelection rows, and validated contract versions,
    being frozen data, do not change.
    """
    lse = link.lse
    member = next((m for m in lse.members if m.elp_id == elp.id), None)
    if member is None:
        raise StructureInvalid({"elp_code": _("L'élément %(code)s n'est pas dans cette liste.", code=elp.code)})
    lse.members.remove(member)  # delete-orphan deletes the row
    db.session.flush()
    record_audit(actor, "remove_list_member", "lse", lse.code, {"elp": elp.code}, None)
    logger.info("Staff %s removed ELP %s from list %s", actor, elp.code, lse.code)


def descendant_elp_ids(elp_id: int) -> set[int]:
    """Return the ids of every ELP beneath the ELP, through the lists hung under it."""
    found: set[int] = set()
    pending = {elp_id}
    while pending:
        children = set(
            db.session.scalars(
                select(LseMember.elp_id).join(ListLink, ListLink.lse_id == LseMember.lse_id)
                .where(ListLink.parent_elp_id.in_(pending))
            )
        )
        pending = children - found
        found |= children
    return found


def find_elp(code: str) -> Elp | None:
    return db.session.scalar(select(Elp).where(func.upper(Elp.code) == code.strip().upper()))


__all__ = [
    "StructureElement", "StructureInvalid", "StructureList", "add_list_member", "find_elp", "link_belongs_to",
    "load_structure", "remove_list_member", "structure_elp_ids", "update_elp", "update_link", "vets_using_elp",
    "vets_using_lse",
]
