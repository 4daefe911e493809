"""Importer of students with their inscriptions administratives (IA), one row per IA."""

from collections import defaultdict
from dataclasses import dataclass

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from ..extensions import db
from ..models import Ia, Student, Vet
from .base import CREATED, MODIFIED, UNCHANGED, Column, Importer, Scope, set_changed, upsert
from .cells import RowCells, RowIssue
from .lookups import batches, students_by_number, vets_by_key

CONTACT_COLUMNS = {"phone": "telephone", "address_line": "adresse", "postal_code": "code_postal", "city": "ville",
                   "country": "pays"}
CONTACT_LENGTHS = {"phone": 30, "address_line": 200, "postal_code": 10, "city": 120, "country": 60}


@dataclass
class IaRecord:
    line: int
    number: str
    identity: dict
    contact: dict  # only the contact cells that are not empty
    vet_key: tuple[str, str]
    year: int
    state: str
    payment_state: str
    is_principal: bool
    vet: Vet | None = None
    student: Student | None = None
    ia: Ia | None = None


class StudentImporter(Importer):
    kind = "students"
    label = _l("Étudiants et inscriptions administratives (IA)")
    columns = (
        Column("numero_etudiant", aliases=("cod_etu", "numero")),
        Column("nom", aliases=("lib_nom_pat_ind",)), Column("prenom", aliases=("lib_pr1_ind",)),
        Column("date_naissance", aliases=("date_nai_ind",)), Column("email"),
        *(Column(name, required=False) for name in CONTACT_COLUMNS.values()),
        Column("code_vet", aliases=("cod_etp",)), Column("version_vet", aliases=("cod_vrs_vet",)),
        Column("annee", aliases=("cod_anu",)), Column("etat_ia", aliases=("eta_iae",)),
        Column("etat_paiement", aliases=("eta_pmt_iae",)), Column("principale", required=False),
    )
    key_description = _l("même numéro étudiant, VET et année")

    def __init__(self):
        self.ias_per_student_year: dict[tuple, int] = defaultdict(int)
        self.students_written: dict[str, Student] = {}

    def parse(self, cells: RowCells) -> IaRecord:
        number = cells.text("numero_etudiant", 20)
        year = cells.year("annee")
        # Without a value, the first IA of a student and year in the file is the principal one.
        rank = self.ias_per_student_year[(number, year)]
        self.ias_per_student_year[(number, year)] += 1
        return IaRecord(
            line=cells.line,
            number=number,
            identity={
                "last_name": cells.text("nom", 120), "first_name": cells.text("prenom", 120),
                "birth_date": cells.date("date_naissance"), "email": parse_email(cells),
            },
            contact={
                name: value for name, column in CONTACT_COLUMNS.items()
                if (value := cells.text(column, CONTACT_LENGTHS[name], required=False))
            },
            vet_key=(cells.text("code_vet", 8), cells.text("version_vet", 3)),
            year=year,
            state=cells.choice("etat_ia", ("E", "A", "R", "C")),
            payment_state=cells.choice("etat_paiement", ("P", "A")),
            is_principal=cells.flag("principale", default=rank == 0),
        )

    def key(self, record: IaRecord) -> tuple:
        return (record.number, record.vet_key, record.year)

    def check_rows_together(self, records: list[IaRecord]) -> list[RowIssue]:
        """Reject a student whose rows disagree on identity, or who has two principal IAs in a year."""
        issues = []
        first_by_number: dict[str, IaRecord] = {}
        principal_by_year: dict[tuple, IaRecord] = {}
        for record in records:
            first = first_by_number.setdefault(record.number, record)
            if (first.identity, first.contact) != (record.identity, record.contact):
                issues.append(RowIssue(record.line, _(
                    "l'étudiant %(number)s a d'autres nom, prénom, date de naissance ou coordonnées à la ligne %(first)s.",
                    number=record.number, first=first.line)))
            if record.is_principal:
                other = principal_by_year.setdefault((record.number, record.year), record)
                if other is not record:
                    issues.append(RowIssue(record.line, _(
                        "l'étudiant %(number)s a déjà une IA principale cette année, à la ligne %(first)s.",
                        number=record.number, first=other.line)))
        return issues

    def resolve(self, records: list[IaRecord], scope: Scope) -> list[RowIssue]:
        vets = vets_by_key(r.vet_key for r in records)
        students = students_by_number(r.number for r in records)
        ias = ias_by_key(student.id for student in students.values())
        issues = []
        for record in records:
            record.vet = vets.get(record.vet_key)
            record.student = students.get(record.number)
            if record.vet is None:
                issues.append(RowIssue(record.line, _("VET inconnue « %(vet)s ».", vet="/".join(record.vet_key))))
            elif not scope.allows_cip(record.vet.cip_id):
                issues.append(RowIssue(record.line, _(
                    "la VET %(vet)s appartient au CIP %(cip)s, qui n'est pas l'un des vôtres.",
                    vet=record.vet.full_code, cip=record.vet.cip.code)))
            elif record.student is not None:
                record.ia = ias.get((record.student.id, record.year, record.vet.id))
        return issues

    def write(self, record: IaRecord) -> str:
        student, student_outcome = self.write_student(record)
        values = {
            "student": student, "vet_id": record.vet.id, "year": record.year, "state": record.state,
            "payment_state": record.payment_state, "is_principal": record.is_principal,
        }
        ia_outcome = upsert(record.ia, Ia, values)[1]
        if ia_outcome == CREATED:
            return CREATED
        return MODIFIED if MODIFIED in (ia_outcome, student_outcome) else UNCHANGED

    def write_student(self, record: IaRecord) -> tuple[Student, str]:
        """Write the student on their first row of the file; later rows reuse it unchanged."""
        if record.number in self.students_written:
            return self.students_written[record.number], UNCHANGED
        # NOTE: a contact detail the student corrected in the kiosk is overwritten by the next file
        # that contains another value. An empty cell keeps the stored value.
        values = {"number": record.number, **record.identity, **record.contact}
        if record.student is None:
            student, outcome = upsert(None, Student, values)
        else:
            student = record.student
            outcome = MODIFIED if set_changed(student, values) else UNCHANGED
        self.students_written[record.number] = student
        return student, outcome


def parse_email(cells: RowCells) -> str | None:
    value = cells.text("email", 254)
    if value is None:
        return None
    local, at, domain = value.partition("@")
    if not (local and at and "." in domain) or " " in value:
        cells.add_issue(_("adresse électronique invalide « %(value)s ».", value=value))
        return None
    return value


def ias_by_key(student_ids) -> dict[tuple[int, int, int], Ia]:
    """Return the stored IAs of the students by (student_id, year, vet_id)."""
    found = {}
    for batch in batches(student_ids):
        for ia in db.session.scalars(select(Ia).where(Ia.student_id.in_(batch))):
            found[(ia.student_id, ia.year, ia.vet_id)] = ia
    return found
