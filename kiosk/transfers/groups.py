"""Importer of teaching groups (TD, TP…) with their capacities, one row per group."""

from dataclasses import dataclass

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from ..extensions import db
from ..models import Elp, Group, GroupCollection, Vet
from ..services import clock
from ..services.groups import set_capacity
from .base import CREATED, MODIFIED, UNCHANGED, Column, Importer, Scope, set_changed, upsert
from .cells import RowCells, RowIssue
from .lookups import batches, elp_ids_under_vets, elps_by_code, rows_by, vets_by_key


@dataclass
class GroupRecord:
    line: int
    collection_code: str
    collection_label: str
    elp_code: str | None
    vet_key: tuple[str, str] | None
    group_code: str
    group_label: str
    capacity: int
    intermediate_capacity: int | None
    elp: Elp | None = None
    vet: Vet | None = None
    collection: GroupCollection | None = None
    group: Group | None = None

    @property
    def owner_text(self) -> str:
        return self.elp_code or "/".join(self.vet_key)


class GroupImporter(Importer):
    kind = "groups"
    label = _l("Groupes (TD, TP…) et leurs capacités")
    columns = (
        Column("code_collection"), Column("libelle_collection"),
        Column("code_elp", required=False, aliases=("cod_elp",)),
        Column("code_vet", required=False, aliases=("cod_etp",)), Column("version_vet", required=False, aliases=("cod_vrs_vet",)),
        Column("code_groupe", aliases=("cod_gpe",)), Column("libelle_groupe", aliases=("lib_gpe",)),
        Column("capacite"), Column("capacite_intermediaire", required=False),
    )
    key_description = _l("même collection et même code de groupe")

    def __init__(self):
        self.collections_written: dict[str, tuple[GroupCollection, str]] = {}

    def parse(self, cells: RowCells) -> GroupRecord:
        elp_code = cells.text("code_elp", 8, required=False)
        vet_code, vet_version = cells.text("code_vet", 8, required=False), cells.text("version_vet", 3, required=False)
        if (elp_code is None) == (vet_code is None and vet_version is None):
            cells.add_issue(_("indiquez soit un ELP (code_elp), soit une VET (code_vet et version_vet), pas les deux."))
        elif vet_code or vet_version:
            if not (vet_code and vet_version):
                cells.add_issue(_("code_vet et version_vet vont ensemble."))
        capacity = cells.integer("capacite")
        intermediate = cells.integer("capacite_intermediaire", required=False)
        if capacity is not None and intermediate is not None and intermediate > capacity:
            cells.add_issue(_("la capacité intermédiaire (%(intermediate)s) dépasse la capacité (%(capacity)s).",
                              intermediate=intermediate, capacity=capacity))
        return GroupRecord(
            line=cells.line, collection_code=cells.text("code_collection", 12),
            collection_label=cells.text("libelle_collection", 120), elp_code=elp_code,
            vet_key=(vet_code, vet_version) if vet_code or vet_version else None,
            group_code=cells.text("code_groupe", 12), group_label=cells.text("libelle_groupe", 120),
            capacity=capacity, intermediate_capacity=intermediate,
        )

    def key(self, record: GroupRecord) -> tuple:
        return (record.collection_code, record.group_code)

    def check_rows_together(self, records: list[GroupRecord]) -> list[RowIssue]:
        """Reject rows of one collection that disagree on its label or owner."""
        first_by_code: dict[str, GroupRecord] = {}
        issues = []
        for record in records:
            first = first_by_code.setdefault(record.collection_code, record)
            if (first.collection_label, first.owner_text) != (record.collection_label, record.owner_text):
                issues.append(RowIssue(record.line, _(
                    "la collection %(code)s a un autre libellé ou un autre élément à la ligne %(first)s.",
                    code=record.collection_code, first=first.line)))
        return issues

    def resolve(self, records: list[GroupRecord], scope: Scope) -> list[RowIssue]:
        elps = elps_by_code(r.elp_code for r in records if r.elp_code)
        vets = vets_by_key(r.vet_key for r in records if r.vet_key)
        collections = rows_by(GroupCollection, GroupCollection.code, (r.collection_code for r in records))
        groups = groups_by_key(c.id for c in collections.values())
        allowed_elp_ids = None if scope.is_unlimited else elp_ids_in_scope(scope)
        issues = []
        for record in records:
            record.elp = elps.get(record.elp_code) if record.elp_code else None
            record.vet = vets.get(record.vet_key) if record.vet_key else None
            record.collection = collections.get(record.collection_code)
            issues.extend(check_owner(record, scope, allowed_elp_ids))
            if record.collection is not None:
                record.group = groups.get((record.collection.id, record.group_code))
        return issues

    def write(self, record: GroupRecord) -> str:
        collection, collection_outcome = self.write_collection(record)
        if record.group is None:
            db.session.add(Group(collection=collection, code=record.group_code, label=record.group_label,
                                 capacity=record.capacity, intermediate_capacity=record.intermediate_capacity))
            return CREATED
        group = record.group
        is_changed = set_changed(group, {"label": record.group_label})
        if (group.capacity, group.intermediate_capacity) != (record.capacity, record.intermediate_capacity):
            # set_capacity gives the freed seats to the waitlist when the capacity rises.
            set_capacity(group, record.capacity, record.intermediate_capacity, clock.utcnow())
            is_changed = True
        return MODIFIED if is_changed or collection_outcome == MODIFIED else UNCHANGED

    def write_collection(self, record: GroupRecord) -> tuple[GroupCollection, str]:
        """Write the collection on its first row of the file; later rows reuse it unchanged."""
        if record.collection_code in self.collections_written:
            return self.collections_written[record.collection_code][0], UNCHANGED
        values = {"code": record.collection_code, "label": record.collection_label,
                  "elp_id": record.elp.id if record.elp else None, "vet_id": record.vet.id if record.vet else None}
        collection, outcome = upsert(record.collection, GroupCollection, values)
        self.collections_written[record.collection_code] = (collection, outcome)
        return collection, outcome


def check_owner(record: GroupRecord, scope: Scope, allowed_elp_ids: set[int] | None) -> list[RowIssue]:
    """Return the issues of the collection's element or VET: unknown, changed, or outside the scope."""
    if record.elp_code and record.elp is None:
        return [RowIssue(record.line, _("ELP inconnu « %(code)s ».", code=record.elp_code))]
    if record.vet_key and record.vet is None:
        return [RowIssue(record.line, _("VET inconnue « %(vet)s ».", vet="/".join(record.vet_key)))]
    stored = record.collection
    if stored is not None and (stored.elp_id, stored.vet_id) != (record.elp and record.elp.id, record.vet and record.vet.id):
        # Moving a collection would carry its students' places to another element.
        return [RowIssue(record.line, _("la collection %(code)s existe déjà pour un autre élément ou une autre VET.",
                                        code=record.collection_code))]
    if record.vet and not scope.allows_cip(record.vet.cip_id):
        return [RowIssue(record.line, _("la VET %(vet)s appartient à un CIP qui n'est pas l'un des vôtres.",
                                        vet=record.vet.full_code))]
    if record.elp and allowed_elp_ids is not None and record.elp.id not in allowed_elp_ids:
        return [RowIssue(record.line, _("l'ELP %(code)s n'est dans aucune VET de vos CIP.", code=record.elp.code))]
    return []


def elp_ids_in_scope(scope: Scope) -> set[int]:
    vet_ids = db.session.scalars(select(Vet.id).where(Vet.cip_id.in_(scope.cip_ids))).all()
    return elp_ids_under_vets(vet_ids)


def groups_by_key(collection_ids) -> dict[tuple[int, str], Group]:
    found = {}
    for batch in batches(collection_ids):
        for group in db.session.scalars(select(Group).where(Group.collection_id.in_(batch))):
            found[(group.collection_id, group.code)] = group
    return found
