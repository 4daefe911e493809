"""The tree a student sees for one VET: lists and elements, filtered by what a campaign offers.

The stored structure alternates lists and elements (VET → LSE → ELP → LSE → …). The tree built
here drops what the web must not show: suspended ELPs, links past their closing date, ELPs the
campaign is not assigned to, and fictive ELPs, whose sub-lists take their place.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from ..extensions import db
from ..models import CampaignElp, Elp, ListLink, Lse, LseMember, Vet


@dataclass(eq=False)
class TreeList:
    """A list as it hangs in this tree, with the rule of its link."""

    lse_id: int
    code: str
    label: str
    type: str  # O, X or F
    min_chosen: int
    max_chosen: int | None
    parent_elp_id: int | None  # None for a list under the VET
    elements: list["TreeElement"] = field(default_factory=list)

    @property
    def key(self) -> str:
        return f"{self.parent_elp_id or 0}-{self.lse_id}"

    @property
    def is_choice(self) -> bool:
        return self.type in ("X", "F")


@dataclass(eq=False)
class TreeElement:
    """An ELP at one place of the tree (the same ELP may appear at several places)."""

    elp_id: int
    code: str
    label: str
    nature_code: str
    nature_label: str
    is_semester: bool
    ects: Decimal
    min_chosen: int | None
    max_chosen: int | None
    min_ects: Decimal | None
    max_ects: Decimal | None
    parent_list: TreeList
    is_acquired: bool = False
    lists: list[TreeList] = field(default_factory=list)

    @property
    def key(self) -> str:
        """Identify this place of the tree as parent ELP, list and ELP: the form's checkbox value."""
        return f"{self.parent_list.key}-{self.elp_id}"

    @property
    def is_mandatory(self) -> bool:
        return self.parent_list.type == "O"


@dataclass(eq=False)
class Tree:
    vet: Vet
    lists: list[TreeList]
    elements_by_key: dict[str, TreeElement]

    def walk(self):
        """Yield (depth, element) for every element in tree order."""

        def visit(lists, depth):
            for tree_list in lists:
                for element in tree_list.elements:
                    yield depth, element
                    yield from visit(element.lists, depth + 1)

        yield from visit(self.lists, 0)


def parse_key(key: str) -> tuple[int | None, int, int]:
    """Split a checkbox value into (parent ELP id or None, LSE id, ELP id); raise ValueError."""
    parent, lse, elp = (int(part) for part in key.split("-"))
    return (parent or None), lse, elp


def build_tree(
    vet: Vet,
    today: date,
    campaign_id: int | None = None,
    acquired_elp_ids: frozenset[int] = frozenset(),
) -> Tree:
    """Load the VET's structure level by level (two queries a level) and keep what is offered.

    With campaign_id None every active element is kept (the desk and the contract use this).
    """
    offered: set[int] | None = None
    if campaign_id is not None:
        offered = set(
            db.session.scalars(
                select(CampaignElp.elp_id).where(
                    CampaignElp.campaign_id == campaign_id, CampaignElp.vet_id == vet.id
                )
            )
        )

    links_by_parent = _load_links(vet, today, parent_elp_ids=None)
    root_lists: list[TreeList] = []
    elements_by_key: dict[str, TreeElement] = {}

    # Each entry pairs a parent ELP id (None for the VET) with the list of TreeList to fill.
    pending: list[tuple[int | None, list[TreeList]]] = [(None, root_lists)]
    while pending:
        next_pending: list[tuple[int | None, list[TreeList]]] = []
        for parent_id, target in pending:
            for link in links_by_parent.get(parent_id, []):
                tree_list = _make_list(link, parent_id)
                for member in link.lse.members:
                    elp = member.elp
                    if elp.is_suspended or (offered is not None and elp.id not in offered and not elp.nature.is_fictive):
                        continue
                    if elp.nature.is_fictive:
                        # NOTE: a fictive ELP is treated as always taken with its parent, whatever
                        # its list's type; its sub-lists are shown in the parent's place.
                        next_pending.append((elp.id, target))
                        continue
                    element = _make_element(elp, tree_list, elp.id in acquired_elp_ids)
                    tree_list.elements.append(element)
                    elements_by_key[element.key] = element
                    if not element.is_acquired:
                        next_pending.append((elp.id, element.lists))
                if tree_list.elements:
                    target.append(tree_list)
        pending = next_pending
        if pending:
            links_by_parent = _load_links(vet, today, parent_elp_ids={p for p, _ in pending})
    return Tree(vet=vet, lists=root_lists, elements_by_key=elements_by_key)


def _load_links(vet: Vet, today: date, parent_elp_ids: set[int] | None) -> dict[int | None, list[ListLink]]:
    if parent_elp_ids is None:
        where = ListLink.vet_id == vet.id
    else:
        where = ListLink.parent_elp_id.in_(parent_elp_ids)
    query = (
        select(ListLink)
        .where(where, or_(ListLink.closes_on.is_(None), ListLink.closes_on >= today))
        .options(
            selectinload(ListLink.lse)
            .selectinload(Lse.members)
            .selectinload(LseMember.elp)
        )
        .order_by(ListLink.position, ListLink.id)
    )
    grouped: dict[int | None, list[ListLink]] = defaultdict(list)
    for link in db.session.scalars(query):
        grouped[link.parent_elp_id].append(link)
    return grouped


def _make_list(link: ListLink, parent_id: int | None) -> TreeList:
    lse = link.lse
    if lse.type == "O":
        min_chosen, max_chosen = 0, None
    else:
        min_chosen = 0 if lse.type == "F" else link.min_chosen
        max_chosen = link.max_chosen
    return TreeList(
        lse_id=lse.id,
        code=lse.code,
        label=lse.label,
        type=lse.type,
        min_chosen=min_chosen,
        max_chosen=max_chosen,
        parent_elp_id=parent_id,
    )


def _make_element(elp: Elp, tree_list: TreeList, is_acquired: bool) -> TreeElement:
    return TreeElement(
        elp_id=elp.id,
        code=elp.code,
        label=elp.label,
        nature_code=elp.nature.code,
        nature_label=elp.nature.label,
        is_semester=elp.nature.is_semester,
        ects=elp.ects,
        min_chosen=elp.min_chosen,
        max_chosen=elp.max_chosen,
        min_ects=elp.min_ects,
        max_ects=elp.max_ects,
        parent_list=tree_list,
        is_acquired=is_acquired,
    )
