"""Importers of what the information system records about students: blocks, acquired and owed ELPs."""

from dataclasses import dataclass
from datetime import date

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from ..extensions import db
from ..models import AcquiredElp, Block, BlockCode, Elp, OwedElp, Student
from .base import Column, Importer, Scope, upsert
from .cells import RowCells, RowIssue
from .lookups import batches, elps_by_code, rows_by, student_cip_ids, students_by_number

STUDENT_COLUMN = Column("numero_etudiant", aliases=("cod_etu", "numero"))


def resolve_students(records: list, scope: Scope) -> list[RowIssue]:
    """Set record.student for each record; reject unknown students and those outside the scope.

    A staff member limited to some CIPs may change the records of students who hold an IA, of
    any year, on a VET of one of those CIPs.
    """
    students = students_by_number(r.number for r in records)
    cip_ids = {} if scope.is_unlimited else student_cip_ids(s.id for s in students.values())
    issues = []
    for record in records:
        record.student = students.get(record.number)
        if record.student is None:
            issues.append(RowIssue(record.line, _("étudiant inconnu « %(number)s » ; importez d'abord les étudiants.",
                                                  number=record.number)))
        elif not scope.is_unlimited and not any(scope.allows_cip(cip_id) for cip_id in cip_ids.get(record.student.id, ())):
            issues.append(RowIssue(record.line, _("l'étudiant %(number)s n'a aucune IA dans vos CIP.",
                                                  number=record.number)))
    return issues


def resolve_elps(records: list) -> list[RowIssue]:
    elps = elps_by_code(r.elp_code for r in records)
    issues = []
    for record in records:
        record.elp = elps.get(record.elp_code)
        if record.elp is None:
            issues.append(RowIssue(record.line, _("ELP inconnu « %(code)s ».", code=record.elp_code)))
    return issues


def student_rows(model, records: list) -> list:
    """Return the stored rows of model that belong to the records' students."""
    student_ids = [r.student.id for r in records if r.student]
    found = []
    for batch in batches(student_ids):
        found.extend(db.session.scalars(select(model).where(model.student_id.in_(batch))))
    return found


@dataclass
class BlockRecord:
    line: int
    number: str
    code: str
    starts_on: date
    ends_on: date | None
    student: Student | None = None
    existing: Block | None = None


class BlockImporter(Importer):
    kind = "blocks"
    label = _l("Blocages des étudiants")
    columns = (
        STUDENT_COLUMN, Column("code_blocage"),
        Column("date_debut"), Column("date_fin", required=False),
    )
    key_description = _l("même étudiant, code de blocage et date de début")

    def parse(self, cells: RowCells) -> BlockRecord:
        record = BlockRecord(cells.line, cells.text("numero_etudiant", 20), cells.text("code_blocage", 8),
                             cells.date("date_debut"), cells.date("date_fin", required=False))
        if record.starts_on and record.ends_on and record.ends_on < record.starts_on:
            cells.add_issue(_("la date de fin précède la date de début."))
        return record

    def key(self, record: BlockRecord) -> tuple:
        return (record.number, record.code, record.starts_on)

    def resolve(self, records: list[BlockRecord], scope: Scope) -> list[RowIssue]:
        issues = resolve_students(records, scope)
        codes = rows_by(BlockCode, BlockCode.code, (r.code for r in records))
        for record in records:
            if record.code not in codes:
                issues.append(RowIssue(record.line, _("code de blocage inconnu « %(code)s ».", code=record.code)))
        existing = {(b.student_id, b.code, b.starts_on): b for b in student_rows(Block, records)}
        for record in records:
            if record.student:
                record.existing = existing.get((record.student.id, record.code, record.starts_on))
        return issues

    def write(self, record: BlockRecord) -> str:
        values = {"student_id": record.student.id, "code": record.code, "starts_on": record.starts_on,
                  "ends_on": record.ends_on}
        return upsert(record.existing, Block, values)[1]


@dataclass
class ElpYearRecord:
    """A student, an ELP and a year: an acquired ELP (the year it was acquired) or an owed one."""

    line: int
    number: str
    elp_code: str
    year: int
    student: Student | None = None
    elp: Elp | None = None
    existing: AcquiredElp | OwedElp | None = None


class ElpYearImporter(Importer):
    columns = (STUDENT_COLUMN, Column("code_elp", aliases=("cod_elp",)), Column("annee", aliases=("cod_anu",)))
    model: type[AcquiredElp] | type[OwedElp]

    def parse(self, cells: RowCells) -> ElpYearRecord:
        return ElpYearRecord(cells.line, cells.text("numero_etudiant", 20), cells.text("code_elp", 8),
                             cells.year("annee"))

    def resolve(self, records: list[ElpYearRecord], scope: Scope) -> list[RowIssue]:
        issues = resolve_students(records, scope) + resolve_elps(records)
        existing = {self.stored_key(row.student_id, row.elp_id, row.year): row
                    for row in student_rows(self.model, records)}
        for record in records:
            if record.student and record.elp:
                record.existing = existing.get(self.stored_key(record.student.id, record.elp.id, record.year))
        return issues

    def stored_key(self, student_id: int, elp_id: int, year: int) -> tuple:
        """Return the key of the model's unique constraint."""
        raise NotImplementedError

    def write(self, record: ElpYearRecord) -> str:
        values = {"student_id": record.student.id, "elp_id": record.elp.id, "year": record.year}
        return upsert(record.existing, self.model, values)[1]


class AcquiredImporter(ElpYearImporter):
    kind = "acquired"
    label = _l("Éléments acquis (PRC)")
    key_description = _l("même étudiant et même ELP")
    model = AcquiredElp

    def key(self, record: ElpYearRecord) -> tuple:
        return (record.number, record.elp_code)

    def stored_key(self, student_id: int, elp_id: int, year: int) -> tuple:
        return (student_id, elp_id)


class OwedImporter(ElpYearImporter):
    kind = "owed"
    label = _l("Éléments dus par les AJAC (dettes)")
    key_description = _l("même étudiant, ELP et année")
    model = OwedElp

    def key(self, record: ElpYearRecord) -> tuple:
        return (record.number, record.elp_code, record.year)

    def stored_key(self, student_id: int, elp_id: int, year: int) -> tuple:
        return (student_id, elp_id, year)
