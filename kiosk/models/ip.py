"""Inscriptions pédagogiques: the working selection and the validated contract versions."""

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import deferred
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .campaign import Campaign
from .students import Student
from .structure import Vet

IP_STATUSES = ("draft", "partial", "complete")
IP_ORIGINS = ("web", "desk", "import")


class Ip(db.Model):
    """One IP per student, year and VET. status follows the last validation (draft before any)."""

    __table_args__ = (
        UniqueConstraint("student_id", "year", "vet_id"),
        CheckConstraint("status IN ('draft', 'partial', 'complete')", name="status"),
        CheckConstraint("origin IN ('web', 'desk', 'import')", name="origin"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("student.id"), index=True)
    year: Mapped[int]
    vet_id: Mapped[int] = mapped_column(ForeignKey("vet.id"))
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaign.id"))
    status: Mapped[str] = mapped_column(String(10), default="draft")
    origin: Mapped[str] = mapped_column(String(10), default="web")
    version_count: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    student: Mapped[Student] = relationship()
    vet: Mapped[Vet] = relationship()
    campaign: Mapped[Campaign | None] = relationship()
    selections: Mapped[list["IpSelection"]] = relationship(
        back_populates="ip", cascade="all, delete-orphan"
    )
    versions: Mapped[list["IpVersion"]] = relationship(
        back_populates="ip", order_by="IpVersion.number", cascade="all, delete-orphan"
    )


class IpSelection(db.Model):
    """An element the student ticked in a choice list, identified by its place in the tree.

    parent_elp_id is None for a list hung under the VET. Mandatory and acquired elements are
    not stored: they follow from the structure and the student's record.
    """

    __table_args__ = (UniqueConstraint("ip_id", "parent_elp_id", "lse_id", "elp_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ip_id: Mapped[int] = mapped_column(ForeignKey("ip.id"), index=True)
    parent_elp_id: Mapped[int | None] = mapped_column(ForeignKey("elp.id"))
    lse_id: Mapped[int] = mapped_column(ForeignKey("lse.id"))
    elp_id: Mapped[int] = mapped_column(ForeignKey("elp.id"))

    ip: Mapped[Ip] = relationship(back_populates="selections")


class IpVersion(db.Model):
    """A validation of an IP: the contrat pédagogique as it stood, frozen as plain data."""

    __table_args__ = (UniqueConstraint("ip_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ip_id: Mapped[int] = mapped_column(ForeignKey("ip.id"))
    number: Mapped[int]
    status: Mapped[str] = mapped_column(String(10))
    validated_at: Mapped[datetime]
    validated_by: Mapped[str] = mapped_column(String(120))  # the student number or a staff login
    contract: Mapped[dict] = mapped_column(JSON)
    # The contract PDF, rendered once at the first need and served from here afterwards.
    pdf: Mapped[bytes | None] = deferred(mapped_column(LargeBinary, default=None))

    ip: Mapped[Ip] = relationship(back_populates="versions")
