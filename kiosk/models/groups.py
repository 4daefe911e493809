"""Teaching groups (TD, TP…) with limited seats, in collections of which a student gets one group."""

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .structure import Elp, Vet

ASSIGNMENT_MODES = ("student", "auto", "staff")


class GroupCollection(db.Model):
    """A set of groups of one element (or one VET): a student is placed in at most one of them."""

    __table_args__ = (
        CheckConstraint("(vet_id IS NULL) <> (elp_id IS NULL)", name="one_owner"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(12), unique=True)
    label: Mapped[str] = mapped_column(String(120))  # "TD", "TP anglais"…
    elp_id: Mapped[int | None] = mapped_column(ForeignKey("elp.id"), index=True)
    vet_id: Mapped[int | None] = mapped_column(ForeignKey("vet.id"), index=True)

    elp: Mapped[Elp | None] = relationship()
    vet: Mapped[Vet | None] = relationship()
    groups: Mapped[list["Group"]] = relationship(back_populates="collection", order_by="Group.code")


class Group(db.Model):
    """A group with a maximum capacity and an optional intermediate one used to balance groups.

    seats_taken only changes through conditional updates (see kiosk.services.groups). It may
    exceed capacity after staff lower the capacity: the students placed keep their seats.
    """

    __table_args__ = (
        UniqueConstraint("collection_id", "code"),
        CheckConstraint("seats_taken >= 0", name="seats_not_negative"),
        CheckConstraint("capacity >= 0", name="capacity_not_negative"),
        CheckConstraint(
            "intermediate_capacity IS NULL OR (intermediate_capacity >= 0 AND intermediate_capacity <= capacity)",
            name="intermediate_within_capacity",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    collection_id: Mapped[int] = mapped_column(ForeignKey("group_collection.id"))
    code: Mapped[str] = mapped_column(String(12))
    label: Mapped[str] = mapped_column(String(120))
    capacity: Mapped[int]
    intermediate_capacity: Mapped[int | None]
    seats_taken: Mapped[int] = mapped_column(default=0)

    collection: Mapped[GroupCollection] = relationship(back_populates="groups")

    @property
    def seats_left(self) -> int:
        return max(0, self.capacity - self.seats_taken)


class GroupMembership(db.Model):
    """A student placed in a group; the unique constraint holds "one group per collection"."""

    __table_args__ = (UniqueConstraint("collection_id", "student_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    collection_id: Mapped[int] = mapped_column(ForeignKey("group_collection.id"))
    group_id: Mapped[int] = mapped_column(ForeignKey("group.id"), index=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("student.id"), index=True)
    assigned_by: Mapped[str] = mapped_column(String(120))  # "student", "auto", "waitlist" or a staff login
    created_at: Mapped[datetime]

    group: Mapped[Group] = relationship()


class WaitlistEntry(db.Model):
    """A student waiting for a seat in a full group, served in order of arrival."""

    __table_args__ = (UniqueConstraint("group_id", "student_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("group.id"), index=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("student.id"), index=True)
    created_at: Mapped[datetime]

    group: Mapped[Group] = relationship()


class CampaignCollection(db.Model):
    """How a campaign places students in a collection's groups, and whether full groups keep a waitlist.

    mode "student": the student chooses online; "auto": the kiosk assigns at validation,
    balancing groups; "staff": the scolarité assigns later. A collection without a row is "staff".
    """

    __table_args__ = (CheckConstraint("mode IN ('student', 'auto', 'staff')", name="mode"),)

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"), primary_key=True)
    collection_id: Mapped[int] = mapped_column(ForeignKey("group_collection.id"), primary_key=True)
    mode: Mapped[str] = mapped_column(String(10), default="student")
    has_waitlist: Mapped[bool] = mapped_column(default=False)
