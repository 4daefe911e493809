"""The demo students offered on the demo login page, with the case each one shows."""

from sqlalchemy import select

from ..extensions import db
from ..models import Student


def demo_personas() -> list[tuple[str, str]]:
    """Return (student number, description) for each persona present in the database."""
    from .cohort import PERSONAS

    numbers = set(db.session.scalars(select(Student.number).where(Student.number.in_([n for n, _ in PERSONAS]))))
    return [(number, description) for number, description in PERSONAS if number in numbers]
