"""Importers of the maquette's nodes: CIPs, natures, VETs and ELPs (lists are in lists.py)."""

from dataclasses import dataclass
from decimal import Decimal

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from ..models import Cip, Elp, Nature, Vet
from .base import Column, Importer, Scope, upsert
from .cells import RowCells, RowIssue
from .lookups import cips_by_code, elps_by_code, natures_by_code, vets_by_key

BOUND_COLUMNS = (
    Column("nb_min", required=False), Column("nb_max", required=False),
    Column("ects_min", required=False), Column("ects_max", required=False),
)


def parse_bounds(cells: RowCells) -> dict:
    """Read the optional bounds on what is chosen directly beneath a VET or an ELP."""
    bounds = {
        "min_chosen": cells.integer("nb_min", required=False),
        "max_chosen": cells.integer("nb_max", required=False),
        "min_ects": cells.decimal("ects_min", required=False),
        "max_ects": cells.decimal("ects_max", required=False),
    }
    for low, high, column in (("min_chosen", "max_chosen", "nb_max"), ("min_ects", "max_ects", "ects_max")):
        if bounds[low] is not None and bounds[high] is not None and bounds[high] < bounds[low]:
            cells.add_issue(_("la colonne « %(column)s » est inférieure au minimum.", column=column))
    return bounds


@dataclass
class CipRecord:
    line: int
    code: str
    label: str
    existing: Cip | None = None


class CipImporter(Importer):
    kind = "cip"
    label = _l("Structure : centres d'inscription pédagogique (CIP)")
    columns = (Column("code_cip", aliases=("cod_cip",)), Column("libelle"))
    key_description = _l("même code de CIP")
    is_admin_only = True

    def parse(self, cells: RowCells) -> CipRecord:
        return CipRecord(cells.line, cells.text("code_cip", 3), cells.text("libelle", 120))

    def key(self, record: CipRecord) -> tuple:
        return (record.code,)

    def resolve(self, records: list[CipRecord], scope: Scope) -> list[RowIssue]:
        existing = cips_by_code(r.code for r in records)
        for record in records:
            record.existing = existing.get(record.code)
        return []

    def write(self, record: CipRecord) -> str:
        # A new CIP starts with web access off: opening it is a decision taken in the console.
        return upsert(record.existing, Cip, {"code": record.code, "label": record.label})[1]


@dataclass
class NatureRecord:
    line: int
    code: str
    label: str
    is_fictive: bool
    is_semester: bool
    existing: Nature | None = None


class NatureImporter(Importer):
    kind = "nature"
    label = _l("Structure : natures d'éléments (SEM, UE…)")
    columns = (
        Column("code_nature", aliases=("cod_nel", "nature")), Column("libelle"),
        Column("fictive", required=False), Column("semestre", required=False),
    )
    key_description = _l("même code de nature")
    is_admin_only = True

    def parse(self, cells: RowCells) -> NatureRecord:
        return NatureRecord(
            cells.line, cells.text("code_nature", 8), cells.text("libelle", 60),
            cells.flag("fictive", default=False), cells.flag("semestre", default=False),
        )

    def key(self, record: NatureRecord) -> tuple:
        return (record.code,)

    def resolve(self, records: list[NatureRecord], scope: Scope) -> list[RowIssue]:
        existing = natures_by_code(r.code for r in records)
        for record in records:
            record.existing = existing.get(record.code)
        return []

    def write(self, record: NatureRecord) -> str:
        values = {"code": record.code, "label": record.label, "is_fictive": record.is_fictive,
                  "is_semester": record.is_semester}
        return upsert(record.existing, Nature, values)[1]


@dataclass
class VetRecord:
    line: int
    code: str
    version: str
    label: str
    cip_code: str
    bounds: dict
    cip: Cip | None = None
    existing: Vet | None = None


class VetImporter(Importer):
    kind = "vet"
    label = _l("Structure : versions d'étape (VET)")
    columns = (
        Column("code_vet", aliases=("cod_etp", "code_etape")), Column("version_vet", aliases=("cod_vrs_vet",)),
        Column("libelle", aliases=("lib_web_vet",)), Column("code_cip", aliases=("cod_cip",)),
        *BOUND_COLUMNS,
    )
    key_description = _l("même code et version de VET")

    def parse(self, cells: RowCells) -> VetRecord:
        return VetRecord(
            cells.line, cells.text("code_vet", 8), cells.text("version_vet", 3), cells.text("libelle", 200),
            cells.text("code_cip", 3), parse_bounds(cells),
        )

    def key(self, record: VetRecord) -> tuple:
        return (record.code, record.version)

    def resolve(self, records: list[VetRecord], scope: Scope) -> list[RowIssue]:
        cips = cips_by_code(r.cip_code for r in records)
        existing = vets_by_key((r.code, r.version) for r in records)
        issues = []
        for record in records:
            record.cip = cips.get(record.cip_code)
            record.existing = existing.get((record.code, record.version))
            if record.cip is None:
                issues.append(RowIssue(record.line, _("CIP inconnu « %(code)s ».", code=record.cip_code)))
            elif not scope.allows_cip(record.cip.id):
                issues.append(RowIssue(record.line, _("le CIP %(code)s n'est pas l'un des vôtres.", code=record.cip.code)))
            elif record.existing is not None and not scope.allows_cip(record.existing.cip_id):
                issues.append(RowIssue(record.line, _("la VET %(vet)s appartient à un CIP qui n'est pas l'un des vôtres.",
                                                      vet=record.existing.full_code)))
        return issues

    def write(self, record: VetRecord) -> str:
        values = {"code": record.code, "version": record.version, "label": record.label,
                  "cip_id": record.cip.id, **record.bounds}
        return upsert(record.existing, Vet, values)[1]


@dataclass
class ElpRecord:
    line: int
    code: str
    label: str
    nature_code: str
    ects: Decimal
    is_suspended: bool
    bounds: dict
    existing: Elp | None = None


class ElpImporter(Importer):
    kind = "elp"
    label = _l("Structure : éléments pédagogiques (ELP)")
    columns = (
        Column("code_elp", aliases=("cod_elp",)), Column("libelle", aliases=("lib_elp", "lic_elp")),
        Column("nature", aliases=("code_nature", "cod_nel")), Column("ects", required=False, aliases=("nbr_crd_elp",)),
        Column("suspendu", required=False), *BOUND_COLUMNS,
    )
    key_description = _l("même code d'ELP")
    is_admin_only = True

    def parse(self, cells: RowCells) -> ElpRecord:
        return ElpRecord(
            cells.line, cells.text("code_elp", 8), cells.text("libelle", 200), cells.text("nature", 8),
            cells.decimal("ects", required=False, maximum=Decimal("999.9")) or Decimal(0),
            cells.flag("suspendu", default=False), parse_bounds(cells),
        )

    def key(self, record: ElpRecord) -> tuple:
        return (record.code,)

    def resolve(self, records: list[ElpRecord], scope: Scope) -> list[RowIssue]:
        natures = natures_by_code(r.nature_code for r in records)
        existing = elps_by_code(r.code for r in records)
        issues = []
        for record in records:
            record.existing = existing.get(record.code)
            if record.nature_code not in natures:
                issues.append(RowIssue(record.line, _("nature inconnue « %(code)s » ; importez d'abord les natures.",
                                                      code=record.nature_code)))
        return issues

    def write(self, record: ElpRecord) -> str:
        values = {"code": record.code, "label": record.label, "nature_code": record.nature_code,
                  "ects": record.ects, "is_suspended": record.is_suspended, **record.bounds}
        return upsert(record.existing, Elp, values)[1]
