"""Students and what the information system records about them: IAs, blocks, acquired and owed ELPs."""

from datetime import date

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .structure import Elp, Vet


class Student(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)  # numéro étudiant
    last_name: Mapped[str] = mapped_column(String(120))
    first_name: Mapped[str] = mapped_column(String(120))
    birth_date: Mapped[date]
    email: Mapped[str] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(30))
    address_line: Mapped[str | None] = mapped_column(String(200))
    postal_code: Mapped[str | None] = mapped_column(String(10))
    city: Mapped[str | None] = mapped_column(String(120))
    country: Mapped[str | None] = mapped_column(String(60))
    # Language chosen on the kiosk (a code of LANGUAGES), for the screens and the mails; None: the default.
    locale: Mapped[str | None] = mapped_column(String(5))

    ias: Mapped[list["Ia"]] = relationship(back_populates="student", order_by="Ia.id")

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


class Ia(db.Model):
    """Inscription administrative of a student on a VET for one academic year."""

    __table_args__ = (
        UniqueConstraint("student_id", "year", "vet_id"),
        CheckConstraint("state IN ('E', 'A', 'R', 'C')", name="state"),
        CheckConstraint("payment_state IN ('P', 'A')", name="payment_state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("student.id"), index=True)
    year: Mapped[int]  # the year the academic year starts in: 2026 for 2026-2027
    vet_id: Mapped[int] = mapped_column(ForeignKey("vet.id"))
    state: Mapped[str] = mapped_column(String(1))
    payment_state: Mapped[str] = mapped_column(String(1))
    is_principal: Mapped[bool] = mapped_column(default=True)

    student: Mapped[Student] = relationship(back_populates="ias")
    vet: Mapped[Vet] = relationship()


class BlockCode(db.Model):
    """A kind of blocage; each university decides which codes forbid the IP."""

    code: Mapped[str] = mapped_column(String(8), primary_key=True)
    label: Mapped[str] = mapped_column(String(120))
    forbids_registration: Mapped[bool] = mapped_column(default=True)


class Block(db.Model):
    """A dated blocage on a student; ends_on None means it stays until lifted."""

    id: Mapped[int] = mapped_column(primary_key=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("student.id"), index=True)
    code: Mapped[str] = mapped_column(ForeignKey("block_code.code"))
    starts_on: Mapped[date]
    ends_on: Mapped[date | None]

    block_code: Mapped[BlockCode] = relationship(lazy="joined")


class AcquiredElp(db.Model):
    """An ELP the student validated in an earlier year (PRC, précédemment acquis)."""

    __table_args__ = (UniqueConstraint("student_id", "elp_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("student.id"), index=True)
    elp_id: Mapped[int] = mapped_column(ForeignKey("elp.id"))
    year: Mapped[int]

    elp: Mapped[Elp] = relationship()


class OwedElp(db.Model):
    """An ELP of an earlier year that an AJAC student still owes ("dette") in a year."""

    __table_args__ = (UniqueConstraint("student_id", "year", "elp_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("student.id"), index=True)
    year: Mapped[int]
    elp_id: Mapped[int] = mapped_column(ForeignKey("elp.id"))

    elp: Mapped[Elp] = relationship()
