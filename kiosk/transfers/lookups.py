"""Rows looked up by their natural keys in batches, so that a file of 30 000 rows costs few queries."""

from collections.abc import Iterable

from sqlalchemy import select, tuple_

from ..extensions import db
from ..models import Cip, Elp, Ia, ListLink, Lse, LseMember, Nature, Student, Vet

# Keys per IN (...) query, far below the bind-parameter limits of SQLite and PostgreSQL.
BATCH_SIZE = 500


def batches(values: Iterable) -> Iterable[list]:
    values = list(dict.fromkeys(values))
    for start in range(0, len(values), BATCH_SIZE):
        yield values[start:start + BATCH_SIZE]


def rows_by(model, column, values: Iterable) -> dict:
    """Return {value: row} for the rows of model whose column is in values."""
    found = {}
    for batch in batches(values):
        for row in db.session.scalars(select(model).where(column.in_(batch))):
            found[getattr(row, column.key)] = row
    return found


def cips_by_code(codes: Iterable[str]) -> dict[str, Cip]:
    return rows_by(Cip, Cip.code, codes)


def natures_by_code(codes: Iterable[str]) -> dict[str, Nature]:
    return rows_by(Nature, Nature.code, codes)


def elps_by_code(codes: Iterable[str]) -> dict[str, Elp]:
    return rows_by(Elp, Elp.code, codes)


def lses_by_code(codes: Iterable[str]) -> dict[str, Lse]:
    return rows_by(Lse, Lse.code, codes)


def students_by_number(numbers: Iterable[str]) -> dict[str, Student]:
    return rows_by(Student, Student.number, numbers)


def vets_by_key(keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Vet]:
    """Return {(code, version): Vet}."""
    found = {}
    for batch in batches(keys):
        for vet in db.session.scalars(select(Vet).where(tuple_(Vet.code, Vet.version).in_(batch))):
            found[(vet.code, vet.version)] = vet
    return found


def student_cip_ids(student_ids: Iterable[int]) -> dict[int, set[int]]:
    """Return, for each student, the CIPs of the VETs they hold an IA on (any year)."""
    found: dict[int, set[int]] = {}
    for batch in batches(student_ids):
        query = select(Ia.student_id, Vet.cip_id).join(Vet, Vet.id == Ia.vet_id).where(Ia.student_id.in_(batch))
        for student_id, cip_id in db.session.execute(query):
            found.setdefault(student_id, set()).add(cip_id)
    return found


def elp_ids_under_vets(vet_ids: Iterable[int]) -> set[int]:
    """Return the ids of every ELP in the structure of the VETs, at any depth, closed links included."""
    found: set[int] = set()
    links = db.session.scalars(select(ListLink).where(ListLink.vet_id.in_(list(vet_ids)))).all()
    while links:
        lse_ids = {link.lse_id for link in links}
        member_ids = set(db.session.scalars(select(LseMember.elp_id).where(LseMember.lse_id.in_(lse_ids))))
        new_ids = member_ids - found
        found |= new_ids
        links = db.session.scalars(select(ListLink).where(ListLink.parent_elp_id.in_(new_ids))).all() if new_ids else []
    return found
