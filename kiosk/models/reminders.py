"""Reminder mails ("relances"): each send by staff or by the schedule, and the students it reached."""

from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .campaign import Campaign
from .ip import Ip
from .students import Ia, Student

REMINDER_KINDS = ("not_started", "unfinished")


class ReminderAction(db.Model):
    """One send of reminders: a staff member's confirmed preview, or one scheduled run for a campaign.

    The preview form carries a random token. A second POST of the same form (a double click, or
    the same request reaching another worker) fails on the unique token and sends nothing more.
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"), index=True)
    vet_id: Mapped[int | None] = mapped_column(ForeignKey("vet.id"))  # None: every VET of the campaign
    student_id: Mapped[int | None] = mapped_column(ForeignKey("student.id"))  # set for a reminder to one student
    author: Mapped[str] = mapped_column(String(120))  # a staff login, or SCHEDULE_AUTHOR
    is_scheduled: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime]

    campaign: Mapped[Campaign] = relationship()
    sent: Mapped[list["ReminderSent"]] = relationship(back_populates="action", order_by="ReminderSent.id")


class ReminderSent(db.Model):
    """The reminder mail one student got from one action; the unique constraint allows one per action."""

    __table_args__ = (
        UniqueConstraint("action_id", "student_id"),
        CheckConstraint("kind IN ('not_started', 'unfinished')", name="kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    action_id: Mapped[int] = mapped_column(ForeignKey("reminder_action.id", ondelete="CASCADE"))
    student_id: Mapped[int] = mapped_column(ForeignKey("student.id"), index=True)
    kind: Mapped[str] = mapped_column(String(12))
    outbox_mail_id: Mapped[int | None] = mapped_column(ForeignKey("outbox_mail.id", ondelete="SET NULL"))

    action: Mapped[ReminderAction] = relationship(back_populates="sent")
    student: Mapped[Student] = relationship()


class ScheduledReminderRun(db.Model):
    """A scheduled run of reminders for a campaign on a Paris date: the key allows one run a day."""

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"), primary_key=True)
    run_on: Mapped[date] = mapped_column(primary_key=True)
    days_before: Mapped[int]  # days left before the campaign closed, on run_on
    # Set once the run's action exists: the run row is inserted first, to claim the day.
    action_id: Mapped[int | None] = mapped_column(ForeignKey("reminder_action.id", ondelete="CASCADE"), unique=True)


# Indexes of the follow-up dashboard (kiosk.services.followup). It reads every IA of a campaign
# by VET and year, looks each IP up by student, year and VET, and lists students by name. On
# 60,000 students the two covering indexes halved the time of the counts in SQLite, and the name
# index, once ANALYZE has run, let SQLite read the first page without sorting the whole campaign
# (docs/benchmarks-dashboard.md).
Index("ix_ia_followup", Ia.vet_id, Ia.year, Ia.student_id, Ia.state, Ia.payment_state)
Index("ix_ip_followup", Ip.student_id, Ip.year, Ip.vet_id, Ip.status, Ip.updated_at)
Index("ix_student_name", Student.last_name, Student.first_name, Student.number)
