"""Programme structure (the "maquette"): CIP, VET, ELP, LSE and the links between them."""

from datetime import date
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db


class Cip(db.Model):
    """Centre d'inscription pédagogique: the office that manages a set of VETs."""

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(3), unique=True)
    label: Mapped[str] = mapped_column(String(120))
    is_web_open: Mapped[bool] = mapped_column(default=False)  # "accès à distance"

    vets: Mapped[list["Vet"]] = relationship(back_populates="cip")


class NodeBoundsMixin:
    """Bounds on the elements chosen directly beneath a node (a VET or an ELP such as a semester).

    Counts and ECTS include mandatory and acquired elements, so "exactly 30 ECTS in S1"
    is min_ects = max_ects = 30. None means no bound.
    """

    min_chosen: Mapped[int | None] = mapped_column(default=None)
    max_chosen: Mapped[int | None] = mapped_column(default=None)
    min_ects: Mapped[Decimal | None] = mapped_column(Numeric(5, 1), default=None)
    max_ects: Mapped[Decimal | None] = mapped_column(Numeric(5, 1), default=None)


class Vet(NodeBoundsMixin, db.Model):
    """Version d'étape: one year (or semester) of a diploma, what an IA is on."""

    __table_args__ = (UniqueConstraint("code", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(8))
    version: Mapped[str] = mapped_column(String(3))
    label: Mapped[str] = mapped_column(String(200))
    cip_id: Mapped[int] = mapped_column(ForeignKey("cip.id"))

    cip: Mapped[Cip] = relationship(back_populates="vets")

    @property
    def full_code(self) -> str:
        return f"{self.code}/{self.version}"


class Nature(db.Model):
    """Nature of an ELP (SEM, UE, ECUE…). A fictive nature is never shown on the web."""

    code: Mapped[str] = mapped_column(String(8), primary_key=True)
    label: Mapped[str] = mapped_column(String(60))
    is_fictive: Mapped[bool] = mapped_column(default=False)
    is_semester: Mapped[bool] = mapped_column(default=False)  # ECTS are totalled per semester


class Elp(NodeBoundsMixin, db.Model):
    """Élément pédagogique. The same ELP may sit in several lists and several VETs."""

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(8), unique=True)
    label: Mapped[str] = mapped_column(String(200))
    nature_code: Mapped[str] = mapped_column(ForeignKey("nature.code"))
    ects: Mapped[Decimal] = mapped_column(Numeric(4, 1), default=Decimal(0))
    is_suspended: Mapped[bool] = mapped_column(default=False)

    nature: Mapped[Nature] = relationship(lazy="joined")


class Lse(db.Model):
    """Liste d'éléments of type O (obligatoire), X (obligatoire à choix) or F (facultative)."""

    __table_args__ = (CheckConstraint("type IN ('O', 'X', 'F')", name="type"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(8), unique=True)
    label: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(1))

    members: Mapped[list["LseMember"]] = relationship(
        back_populates="lse", order_by="LseMember.position", cascade="all, delete-orphan"
    )


class LseMember(db.Model):
    """An ELP in a list, at a position."""

    __table_args__ = (UniqueConstraint("lse_id", "elp_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    lse_id: Mapped[int] = mapped_column(ForeignKey("lse.id"))
    elp_id: Mapped[int] = mapped_column(ForeignKey("elp.id"))
    position: Mapped[int] = mapped_column(default=0)

    lse: Mapped[Lse] = relationship(back_populates="members")
    elp: Mapped[Elp] = relationship()


class ListLink(db.Model):
    """A list hung under a VET (vet_id set) or under an ELP (parent_elp_id set), with its rule.

    min_chosen and max_chosen apply to X and F lists; max None means no maximum. After
    closes_on the link is ignored.
    """

    __table_args__ = (
        CheckConstraint("(vet_id IS NULL) <> (parent_elp_id IS NULL)", name="one_parent"),
        CheckConstraint("min_chosen >= 0", name="min_not_negative"),
        CheckConstraint("max_chosen IS NULL OR max_chosen >= min_chosen", name="max_not_below_min"),
        UniqueConstraint("vet_id", "parent_elp_id", "lse_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    vet_id: Mapped[int | None] = mapped_column(ForeignKey("vet.id"), index=True)
    parent_elp_id: Mapped[int | None] = mapped_column(ForeignKey("elp.id"), index=True)
    lse_id: Mapped[int] = mapped_column(ForeignKey("lse.id"))
    position: Mapped[int] = mapped_column(default=0)
    min_chosen: Mapped[int] = mapped_column(default=0)
    max_chosen: Mapped[int | None] = mapped_column(default=None)
    closes_on: Mapped[date | None] = mapped_column(default=None)

    lse: Mapped[Lse] = relationship()


