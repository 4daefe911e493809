"""Seats in groups, taken and given back only through conditional updates the database enforces.

A seat is taken by `UPDATE group SET seats_taken = seats_taken + 1 WHERE seats_taken < capacity`:
of many concurrent requests for the last seat, exactly one sees a changed row. Nothing here reads
a count and then writes it. Functions flush but never commit.
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from ..extensions import db
from ..models import CampaignCollection, Group, GroupCollection, GroupMembership, Student, WaitlistEntry
from .tree import Tree

logger = logging.getLogger(__name__)


class GroupFull(Exception):
    """The group had no seat left; the student keeps the group they had, if any."""


class GroupNotOffered(Exception):
    """The collection or group is not offered to this student now (forged or stale request)."""


@dataclass
class OfferedCollection:
    """A collection of groups the student meets in this IP, with how its groups are assigned."""

    collection: GroupCollection
    mode: str
    has_waitlist: bool
    owner_label: str  # the element (or VET) the groups belong to
    membership: GroupMembership | None = None
    waiting_group_ids: set[int] = field(default_factory=set)

    @property
    def groups(self) -> list[Group]:
        return self.collection.groups

    @property
    def has_free_seat(self) -> bool:
        return any(group.seats_left > 0 for group in self.groups)

    @property
    def is_settled(self) -> bool:
        """Whether the student needs to do nothing more here before a complete validation."""
        if self.mode != "student":
            return True
        return self.membership is not None or bool(self.waiting_group_ids) or not self.has_free_seat


def offered_collections(tree: Tree, chosen_keys: set[str], campaign_id: int, student_id: int) -> list[OfferedCollection]:
    """List the collections of the VET and of the chosen elements, in tree order."""
    owners: dict[int, str] = {}
    for _depth, element in tree.walk():
        if element.key in chosen_keys and element.elp_id not in owners:
            owners[element.elp_id] = element.label
    collections = db.session.scalars(
        select(GroupCollection)
        .where(or_(GroupCollection.vet_id == tree.vet.id, GroupCollection.elp_id.in_(owners)))
        .options(selectinload(GroupCollection.groups))  # one query for every collection's groups
        .order_by(GroupCollection.id)
    ).all()
    if not collections:
        return []
    collection_ids = [c.id for c in collections]
    settings = {
        row.collection_id: row
        for row in db.session.scalars(
            select(CampaignCollection).where(
                CampaignCollection.campaign_id == campaign_id, CampaignCollection.collection_id.in_(collection_ids)
            )
        )
    }
    memberships = {
        m.collection_id: m
        for m in db.session.scalars(
            select(GroupMembership).where(
                GroupMembership.student_id == student_id, GroupMembership.collection_id.in_(collection_ids)
            )
        )
    }
    waiting: dict[int, set[int]] = {}
    for entry in db.session.scalars(
        select(WaitlistEntry).join(Group).where(
            WaitlistEntry.student_id == student_id, Group.collection_id.in_(collection_ids)
        )
    ):
        waiting.setdefault(entry.group.collection_id, set()).add(entry.group_id)

    order = list(owners)
    collections = sorted(collections, key=lambda c: (-1, c.id) if c.vet_id else (order.index(c.elp_id), c.id))
    offered = []
    for collection in collections:
        setting = settings.get(collection.id)
        offered.append(OfferedCollection(
            collection=collection,
            mode=setting.mode if setting else "staff",
            has_waitlist=bool(setting and setting.has_waitlist),
            owner_label=tree.vet.label if collection.vet_id else owners[collection.elp_id],
            membership=memberships.get(collection.id),
            waiting_group_ids=waiting.get(collection.id, set()),
        ))
    return offered


def take_seat(group_id: int, limit_column=Group.capacity) -> bool:
    """Take one seat if the group is below the limit (its capacity by default); return success."""
    result = db.session.execute(
        update(Group)
        .where(Group.id == group_id, Group.seats_taken < limit_column)
        .values(seats_taken=Group.seats_taken + 1)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def give_back_seat(group_id: int) -> None:
    db.session.execute(
        update(Group)
        .where(Group.id == group_id, Group.seats_taken > 0)
        .values(seats_taken=Group.seats_taken - 1)
        .execution_options(synchronize_session=False)
    )


def _locked_membership(collection_id: int, student_id: int) -> GroupMembership | None:
    """Load the membership with a row lock (PostgreSQL) so two tabs cannot both move it."""
    return db.session.scalar(
        select(GroupMembership)
        .where(GroupMembership.collection_id == collection_id, GroupMembership.student_id == student_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


def place_student(
    student: Student, group: Group, assigned_by: str, now_utc: datetime, limit_column=Group.capacity
) -> GroupMembership:
    """Seat the student in the group, moving them out of another group of the collection.

    Raises GroupFull, leaving any current membership as it was, when the group has reached
    limit_column (its capacity unless the caller balances on the intermediate capacity).
    """
    membership = _locked_membership(group.collection_id, student.id)
    if membership is not None and membership.group_id == group.id:
        return membership
    if membership is not None:
        # A move updates two group rows. Lock both in id order first (PostgreSQL): two students
        # moving in opposite directions would otherwise each lock one row and wait for the other's.
        db.session.execute(
            select(Group.id).where(Group.id.in_([membership.group_id, group.id])).order_by(Group.id).with_for_update()
        )
    if not take_seat(group.id, limit_column):
        raise GroupFull()
    if membership is not None:
        previous_group_id = membership.group_id
        membership.group_id = group.id
        membership.assigned_by = assigned_by
        membership.created_at = now_utc
        give_back_seat(previous_group_id)
        db.session.flush()
        logger.info("Student %s moved from group %s to group %s", student.id, previous_group_id, group.id)
        promote_waitlist(previous_group_id, now_utc)
    else:
        membership = GroupMembership(
            collection_id=group.collection_id, group_id=group.id, student_id=student.id,
            assigned_by=assigned_by, created_at=now_utc,
        )
        try:
            with db.session.begin_nested():
                db.session.add(membership)
        except IntegrityError:
            # Another request placed this student in the collection first: keep that place.
            give_back_seat(group.id)
            existing = _locked_membership(group.collection_id, student.id)
            if existing is None:
                raise
            return existing
        logger.info("Student %s placed in group %s by %s", student.id, group.id, assigned_by)
    db.session.execute(
        delete(WaitlistEntry).where(WaitlistEntry.group_id == group.id, WaitlistEntry.student_id == student.id)
    )
    db.session.expire(group, ["seats_taken"])
    return membership


def leave_collection(student_id: int, collection_id: int, now_utc: datetime) -> None:
    """Give back the student's seat and waitlist places in the collection, then serve the waitlist."""
    membership = _locked_membership(collection_id, student_id)
    db.session.execute(
        delete(WaitlistEntry).where(
            WaitlistEntry.student_id == student_id,
            WaitlistEntry.group_id.in_(select(Group.id).where(Group.collection_id == collection_id)),
        )
    )
    if membership is None:
        return
    group_id = membership.group_id
    db.session.delete(membership)
    give_back_seat(group_id)
    db.session.flush()
    logger.info("Student %s left group %s", student_id, group_id)
    promote_waitlist(group_id, now_utc)


def join_waitlist(student: Student, group: Group, now_utc: datetime) -> WaitlistEntry:
    existing = db.session.scalar(
        select(WaitlistEntry).where(WaitlistEntry.group_id == group.id, WaitlistEntry.student_id == student.id)
    )
    if existing is not None:
        return existing
    entry = WaitlistEntry(group_id=group.id, student_id=student.id, created_at=now_utc)
    try:
        with db.session.begin_nested():
            db.session.add(entry)
    except IntegrityError:
        return db.session.scalar(
            select(WaitlistEntry).where(WaitlistEntry.group_id == group.id, WaitlistEntry.student_id == student.id)
        )
    logger.info("Student %s waits for group %s", student.id, group.id)
    return entry


def promote_waitlist(group_id: int, now_utc: datetime) -> int:
    """Seat waiting students, first come first served, while the group has seats; return how many.

    Each promoted student gets a mail through the outbox.
    """
    from .group_mail import queue_promotion_mail

    promoted = 0
    while True:
        entry = db.session.scalar(
            select(WaitlistEntry).where(WaitlistEntry.group_id == group_id)
            .order_by(WaitlistEntry.created_at, WaitlistEntry.id).limit(1).with_for_update(skip_locked=True)
        )
        if entry is None:
            return promoted
        group = db.session.get(Group, group_id)
        db.session.refresh(group, ["seats_taken", "capacity"])
        if group.seats_taken >= group.capacity:
            return promoted
        student = db.session.get(Student, entry.student_id)
        try:
            place_student(student, group, "waitlist", now_utc)  # also removes the waitlist entry
        except GroupFull:
            return promoted
        queue_promotion_mail(student, group)
        promoted += 1
        logger.info("Student %s promoted from the waitlist into group %s", student.id, group_id)


def auto_assign(student: Student, collection: GroupCollection, now_utc: datetime) -> GroupMembership | None:
    """Place the student in the emptiest group, filling every group to its intermediate capacity first.

    Returns None when every group is full; the student then waits for the scolarité.
    """
    existing = _locked_membership(collection.id, student.id)
    if existing is not None:
        return existing
    groups = db.session.scalars(
        select(Group).where(Group.collection_id == collection.id).order_by(Group.seats_taken, Group.id)
        .execution_options(populate_existing=True)
    ).all()
    phases = [
        [g for g in groups if g.intermediate_capacity is not None],
        groups,
    ]
    for phase, candidates in enumerate(phases):
        limit = Group.intermediate_capacity if phase == 0 else Group.capacity
        for group in candidates:
            try:
                return place_student(student, group, "auto", now_utc, limit)
            except GroupFull:
                continue
    return None


def set_capacity(group: Group, capacity: int, intermediate_capacity: int | None, now_utc: datetime) -> None:
    """Change a group's capacities. Students already placed stay; a raise serves the waitlist."""
    if capacity < 0 or (intermediate_capacity is not None and not 0 <= intermediate_capacity <= capacity):
        raise ValueError(_("La capacité intermédiaire doit être comprise entre 0 et la capacité maximale."))
    group.capacity = capacity
    group.intermediate_capacity = intermediate_capacity
    db.session.flush()
    promote_waitlist(group.id, now_utc)


def release_unchosen(tree: Tree, chosen_keys: set[str], student_id: int, now_utc: datetime) -> None:
    """Give back seats and waitlist places in the groups of elements the student no longer takes."""
    chosen_elp_ids = {e.elp_id for _d, e in tree.walk() if e.key in chosen_keys}
    dropped_elp_ids = {e.elp_id for _d, e in tree.walk()} - chosen_elp_ids
    if not dropped_elp_ids:
        return
    held = select(GroupMembership.collection_id).where(GroupMembership.student_id == student_id).union(
        select(Group.collection_id).join(WaitlistEntry, WaitlistEntry.group_id == Group.id)
        .where(WaitlistEntry.student_id == student_id)
    )
    collection_ids = db.session.scalars(
        select(GroupCollection.id).where(GroupCollection.elp_id.in_(dropped_elp_ids), GroupCollection.id.in_(held))
    ).all()
    for collection_id in collection_ids:
        leave_collection(student_id, collection_id, now_utc)


def settle_groups(offered: list[OfferedCollection], student: Student, now_utc: datetime) -> None:
    """Assign the groups of "auto" collections that the student has no group in yet."""
    for item in offered:
        if item.mode == "auto" and item.membership is None:
            item.membership = auto_assign(student, item.collection, now_utc)


def unsettled_messages(offered: list[OfferedCollection]) -> list[str]:
    return [
        _("Choisissez un groupe « %(collection)s » pour « %(owner)s ».", collection=item.collection.label, owner=item.owner_label)
        for item in offered
        if not item.is_settled
    ]


def contract_groups(offered: list[OfferedCollection]) -> list[dict]:
    """Describe each collection's outcome for the frozen contract."""
    rows = []
    for item in offered:
        if item.membership is not None:
            group = db.session.get(Group, item.membership.group_id)
            outcome, state = group.label, "placed"
        elif item.waiting_group_ids:
            labels = sorted(g.label for g in item.groups if g.id in item.waiting_group_ids)
            outcome, state = ", ".join(labels), "waiting"
        elif item.mode == "staff":
            outcome, state = "", "staff"
        else:
            outcome, state = "", "none"
        rows.append({"owner": item.owner_label, "collection": item.collection.label, "group": outcome, "state": state})
    return rows
