"""Importers of the maquette's lists: LSEs, their members, and the links that hang them under a parent."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, tuple_

from ..extensions import db
from ..models import Elp, ListLink, Lse, LseMember, Vet
from .base import Column, Importer, Scope, upsert
from .cells import RowCells, RowIssue
from .lookups import batches, elps_by_code, lses_by_code, vets_by_key


@dataclass
class LseRecord:
    line: int
    code: str
    label: str
    type: str
    existing: Lse | None = None


class LseImporter(Importer):
    kind = "lse"
    label = _l("Structure : listes d'éléments (LSE)")
    columns = (
        Column("code_lse", aliases=("cod_lse",)), Column("libelle", aliases=("lib_lse",)),
        Column("type", aliases=("type_lse", "cod_typ_lse")),
    )
    key_description = _l("même code de LSE")
    is_admin_only = True

    def parse(self, cells: RowCells) -> LseRecord:
        return LseRecord(cells.line, cells.text("code_lse", 8), cells.text("libelle", 200),
                         cells.choice("type", ("O", "X", "F")))

    def key(self, record: LseRecord) -> tuple:
        return (record.code,)

    def resolve(self, records: list[LseRecord], scope: Scope) -> list[RowIssue]:
        existing = lses_by_code(r.code for r in records)
        for record in records:
            record.existing = existing.get(record.code)
        return []

    def write(self, record: LseRecord) -> str:
        values = {"code": record.code, "label": record.label, "type": record.type}
        return upsert(record.existing, Lse, values)[1]


@dataclass
class MemberRecord:
    line: int
    lse_code: str
    elp_code: str
    position: int
    lse: Lse | None = None
    elp: Elp | None = None
    existing: LseMember | None = None


class LseMemberImporter(Importer):
    kind = "lse-member"
    label = _l("Structure : éléments de chaque liste")
    columns = (
        Column("code_lse", aliases=("cod_lse",)), Column("code_elp", aliases=("cod_elp",)),
        Column("position", required=False),
    )
    key_description = _l("même LSE et même ELP")
    is_admin_only = True

    def __init__(self):
        self.rows_per_list: dict[str, int] = defaultdict(int)

    def parse(self, cells: RowCells) -> MemberRecord:
        lse_code = cells.text("code_lse", 8)
        # Without a position column, members keep the order of the file within each list.
        rank = self.rows_per_list[lse_code]
        self.rows_per_list[lse_code] += 1
        position = cells.integer("position", required=False)
        return MemberRecord(cells.line, lse_code, cells.text("code_elp", 8), rank if position is None else position)

    def key(self, record: MemberRecord) -> tuple:
        return (record.lse_code, record.elp_code)

    def resolve(self, records: list[MemberRecord], scope: Scope) -> list[RowIssue]:
        lses = lses_by_code(r.lse_code for r in records)
        elps = elps_by_code(r.elp_code for r in records)
        issues = []
        for record in records:
            record.lse, record.elp = lses.get(record.lse_code), elps.get(record.elp_code)
            issues.extend(unknown_codes(record.line, lse_code=record.lse_code if record.lse is None else None,
                                        elp_code=record.elp_code if record.elp is None else None))
        existing = members_by_ids((r.lse.id, r.elp.id) for r in records if r.lse and r.elp)
        for record in records:
            if record.lse and record.elp:
                record.existing = existing.get((record.lse.id, record.elp.id))
        return issues

    def write(self, record: MemberRecord) -> str:
        values = {"lse_id": record.lse.id, "elp_id": record.elp.id, "position": record.position}
        return upsert(record.existing, LseMember, values)[1]

    def check_written(self) -> list[RowIssue]:
        return structure_loops()


@dataclass
class LinkRecord:
    line: int
    lse_code: str
    vet_key: tuple[str, str] | None
    parent_code: str | None
    min_chosen: int | None
    max_chosen: int | None
    closes_on: date | None
    position: int
    lse: Lse | None = None
    vet: Vet | None = None
    parent: Elp | None = None
    existing: ListLink | None = None


class LinkImporter(Importer):
    kind = "link"
    label = _l("Structure : listes rattachées à une VET ou un ELP, avec leurs règles")
    columns = (
        Column("code_lse", aliases=("cod_lse",)),
        Column("code_vet", required=False, aliases=("cod_etp",)), Column("version_vet", required=False, aliases=("cod_vrs_vet",)),
        Column("code_elp_parent", required=False, aliases=("cod_elp_pere",)),
        Column("nb_min", required=False, aliases=("nbr_min_elp_obl_chx", "nbr_min_elp_obl_chx_vet")),
        Column("nb_max", required=False, aliases=("nbr_max_elp_obl_chx", "nbr_max_elp_obl_chx_vet")),
        Column("date_fermeture", required=False, aliases=("dat_frm_rel_lse_vet",)), Column("position", required=False),
    )
    key_description = _l("même liste sous le même parent")
    is_admin_only = True

    def __init__(self):
        self.rows_per_parent: dict[tuple, int] = defaultdict(int)

    def parse(self, cells: RowCells) -> LinkRecord:
        vet_code, vet_version = cells.text("code_vet", 8, required=False), cells.text("version_vet", 3, required=False)
        parent_code = cells.text("code_elp_parent", 8, required=False)
        vet_key = (vet_code, vet_version) if vet_code or vet_version else None
        if (vet_key is None) == (parent_code is None):
            cells.add_issue(_("indiquez soit une VET (code_vet et version_vet), soit un ELP parent (code_elp_parent), pas les deux."))
        elif vet_key and not all(vet_key):
            cells.add_issue(_("code_vet et version_vet vont ensemble."))
        minimum, maximum = cells.integer("nb_min", required=False), cells.integer("nb_max", required=False)
        if minimum is not None and maximum is not None and maximum < minimum:
            cells.add_issue(_("nb_max (%(max)s) est inférieur à nb_min (%(min)s).", max=maximum, min=minimum))
        parent = vet_key or parent_code
        rank = self.rows_per_parent[parent]
        self.rows_per_parent[parent] += 1
        position = cells.integer("position", required=False)
        return LinkRecord(
            cells.line, cells.text("code_lse", 8), vet_key, parent_code, minimum, maximum,
            cells.date("date_fermeture", required=False), rank if position is None else position,
        )

    def key(self, record: LinkRecord) -> tuple:
        return (record.vet_key, record.parent_code, record.lse_code)

    def resolve(self, records: list[LinkRecord], scope: Scope) -> list[RowIssue]:
        lses = lses_by_code(r.lse_code for r in records)
        vets = vets_by_key(r.vet_key for r in records if r.vet_key)
        parents = elps_by_code(r.parent_code for r in records if r.parent_code)
        issues = []
        for record in records:
            record.lse = lses.get(record.lse_code)
            record.vet = vets.get(record.vet_key) if record.vet_key else None
            record.parent = parents.get(record.parent_code) if record.parent_code else None
            issues.extend(self.check_references(record))
        existing = links_by_parent(records)
        for record in records:
            if record.lse and (record.vet or record.parent):
                record.existing = existing.get(link_key(record))
        return issues

    def check_references(self, record: LinkRecord) -> list[RowIssue]:
        issues = unknown_codes(record.line, lse_code=record.lse_code if record.lse is None else None,
                               elp_code=record.parent_code if record.parent_code and record.parent is None else None)
        if record.vet_key and record.vet is None:
            issues.append(RowIssue(record.line, _("VET inconnue « %(vet)s ».", vet="/".join(record.vet_key))))
        if record.lse is not None and record.lse.type == "F" and (record.min_chosen or 0) > 0:
            issues.append(RowIssue(record.line, _("la liste %(code)s est facultative (F) : nb_min doit être vide ou 0.",
                                                  code=record.lse.code)))
        return issues

    def write(self, record: LinkRecord) -> str:
        values = {
            "vet_id": record.vet.id if record.vet else None,
            "parent_elp_id": record.parent.id if record.parent else None,
            "lse_id": record.lse.id, "position": record.position, "closes_on": record.closes_on,
            **link_rule(record),
        }
        return upsert(record.existing, ListLink, values)[1]

    def check_written(self) -> list[RowIssue]:
        return structure_loops()


def link_rule(record: LinkRecord) -> dict:
    """Return the stored min and max: an O list takes every element, so it keeps none."""
    if record.lse.type == "O":
        return {"min_chosen": 0, "max_chosen": None}
    return {"min_chosen": record.min_chosen or 0, "max_chosen": record.max_chosen}


def link_key(record: LinkRecord) -> tuple:
    return (record.vet.id if record.vet else None, record.parent.id if record.parent else None, record.lse.id)


def links_by_parent(records: list[LinkRecord]) -> dict[tuple, ListLink]:
    """Return the stored links of the records by (vet_id, parent_elp_id, lse_id)."""
    lse_ids = [r.lse.id for r in records if r.lse]
    found = {}
    for batch in batches(lse_ids):
        for link in db.session.scalars(select(ListLink).where(ListLink.lse_id.in_(batch))):
            found[(link.vet_id, link.parent_elp_id, link.lse_id)] = link
    return found


def members_by_ids(pairs) -> dict[tuple[int, int], LseMember]:
    found = {}
    for batch in batches(pairs):
        query = select(LseMember).where(tuple_(LseMember.lse_id, LseMember.elp_id).in_(batch))
        for member in db.session.scalars(query):
            found[(member.lse_id, member.elp_id)] = member
    return found


def unknown_codes(line: int, lse_code: str | None = None, elp_code: str | None = None) -> list[RowIssue]:
    issues = []
    if lse_code:
        issues.append(RowIssue(line, _("LSE inconnue « %(code)s » ; importez d'abord les listes.", code=lse_code)))
    if elp_code:
        issues.append(RowIssue(line, _("ELP inconnu « %(code)s » ; importez d'abord les éléments.", code=elp_code)))
    return issues


def structure_loops() -> list[RowIssue]:
    """Return an issue if an ELP now lies beneath itself, which would make its tree endless."""
    children: dict[int, set[int]] = defaultdict(set)
    query = (
        select(ListLink.parent_elp_id, LseMember.elp_id)
        .join(LseMember, LseMember.lse_id == ListLink.lse_id)
        .where(ListLink.parent_elp_id.is_not(None))
    )
    for parent_id, child_id in db.session.execute(query):
        children[parent_id].add(child_id)
    loop = find_loop(children)
    if not loop:
        return []
    codes = dict(db.session.execute(select(Elp.id, Elp.code).where(Elp.id.in_(loop))).all())
    path = " → ".join(codes[elp_id] for elp_id in [*loop, loop[0]])
    return [RowIssue(None, _("la structure formerait une boucle : %(path)s. Rien n'a été importé.", path=path))]


def find_loop(children: dict[int, set[int]]) -> list[int]:
    """Return the nodes of one cycle of the graph, in order, or [] (iterative depth-first search)."""
    state: dict[int, str] = {}  # "open" while on the current path, "done" once fully explored
    for root in list(children):
        if root in state:
            continue
        path = [root]
        pending = [iter(sorted(children.get(root, ())))]
        state[root] = "open"
        while pending:
            child = next(pending[-1], None)
            if child is None:
                state[path.pop()] = "done"
                pending.pop()
            elif state.get(child) == "open":
                return path[path.index(child):]
            elif child not in state:
                state[child] = "open"
                path.append(child)
                pending.append(iter(sorted(children.get(child, ()))))
    return []
