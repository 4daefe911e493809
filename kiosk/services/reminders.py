"""Reminder mails ("relances") to the eligible students who have not finished their IP.

A send inserts its ReminderAction first. The unique token (and, for the schedule, the unique
(campaign, Paris date) of ScheduledReminderRun) makes a repeated or concurrent send of the same
action fail before any mail is queued. Each student then gets one mail, queued in the outbox in
the same transaction as its ReminderSent row, however many unfinished IPs they have.
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime

from flask import current_app
from flask_babel import force_locale, format_datetime
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models import Campaign, Ia, ReminderAction, ReminderSent, ScheduledReminderRun, Student, Vet
from . import clock
from .audit import record_audit
from .followup import UNFINISHED_STATES, Scope, population, state_expression
from .outbox import queue_mail

logger = logging.getLogger(__name__)

SCHEDULE_AUTHOR = "flask remind"
DEFAULT_DAYS_BEFORE = (7, 2)
# Languages of the reminder templates (templates/mail/reminder_<kind>.<locale>.txt).
REMINDER_LOCALES = ("fr", "en")
# Babel patterns of the campaign's closing date and time, per mail locale.
CLOSING_FORMATS = {"fr": "EEEE d MMMM y 'à' HH:mm", "en": "EEEE d MMMM y 'at' HH:mm"}


@dataclass
class PendingIp:
    """An eligible IA of the campaign whose IP is not finished."""

    vet: Vet
    state: str  # one of followup.UNFINISHED_STATES


@dataclass
class Recipient:
    student: Student
    pending: list[PendingIp] = field(default_factory=list)

    @property
    def kind(self) -> str:
        """Return "not_started" when no pending IA has an IP yet, else "unfinished"."""
        if all(item.state == "not_started" for item in self.pending):
            return "not_started"
        return "unfinished"


@dataclass
class SendResult:
    action: ReminderAction
    is_new: bool  # False: the token was used already, and this call queued nothing
    mail_count: int  # the mails the action queued, by this call or by the first one


class ReminderNotAllowed(Exception):
    """Reminders cannot go out for this campaign now. The message gives the reason."""


@dataclass
class ScheduledOutcome:
    campaign: Campaign
    days_before: int
    sent_count: int | None  # None: this campaign already had its run on this Paris date


def check_campaign_open(campaign: Campaign, now_utc: datetime) -> None:
    """Raise ReminderNotAllowed unless students can do the web IP of this campaign now."""
    if not campaign.cip.is_web_open:
        raise ReminderNotAllowed(_(
            "L'accès à distance du CIP %(cip)s est fermé : les étudiants ne pourraient pas faire leur IP.",
            cip=campaign.cip.code,
        ))
    if not campaign.is_open_at(now_utc):
        raise ReminderNotAllowed(_(
            "La campagne %(code)s n'est pas ouverte : les étudiants ne pourraient pas faire leur IP.",
            code=campaign.code,
        ))


def find_recipients(scope: Scope, student_id: int | None = None) -> list[Recipient]:
    """Return the students of the scope with an eligible, unfinished IA, each once, sorted by name.

    student_id narrows the search to one student.
    """
    state = state_expression(scope.today)
    query = (
        population(select(Student, Vet, state), scope.year, [scope.campaign.id], scope.vet_id)
        .join(Student, Student.id == Ia.student_id)
        .where(state.in_(UNFINISHED_STATES))
    )
    if student_id is not None:
        query = query.where(Student.id == student_id)
    query = query.order_by(Student.last_name, Student.first_name, Student.number, Vet.code, Vet.version)

    recipients: dict[int, Recipient] = {}
    for student, vet, state_value in db.session.execute(query):
        recipient = recipients.setdefault(student.id, Recipient(student))
        recipient.pending.append(PendingIp(vet, state_value))
    return list(recipients.values())


def student_locale(student: Student) -> str:
    """Return the language of the student's reminders: the one chosen on the kiosk if a template exists, else French."""
    return student.locale if student.locale in REMINDER_LOCALES else "fr"


def render_reminder(recipient: Recipient, campaign: Campaign, locale: str) -> tuple[str, str]:
    """Render a reminder mail in the locale and return its subject and body.

    The template sets `subject` with {% set %}; the rest of its output is the body.
    """
    template = current_app.jinja_env.get_template(f"mail/reminder_{recipient.kind}.{locale}.txt")
    with force_locale(locale):
        context = {
            "student": recipient.student,
            "pending": recipient.pending,
            "campaign": campaign,
            "closing": format_datetime(clock.to_local(campaign.closes_at), CLOSING_FORMATS[locale]),
        }
        current_app.update_template_context(context)
        module = template.make_module(context)
        return str(module.subject).strip(), str(module)


def send_reminders(
    scope: Scope, token: str, author: str, now_utc: datetime, student: Student | None = None,
    is_scheduled: bool = False,
) -> SendResult:
    """Record a reminder action and queue one mail to each recipient of the scope (or to student).

    When an action with this token exists already, return it and queue nothing.
    """
    # NOTE: every mail is rendered and queued in this transaction. 3,469 mails took 2.1 s on
    # SQLite, so a reminder to 25,000 students would hold one request about 15 s (an estimate).
    action = ReminderAction(
        token=token, campaign_id=scope.campaign.id, vet_id=scope.vet_id,
        student_id=student.id if student is not None else None,
        author=author, is_scheduled=is_scheduled, created_at=now_utc,
    )
    try:
        with db.session.begin_nested():
            db.session.add(action)
    except IntegrityError:
        existing = db.session.scalar(select(ReminderAction).where(ReminderAction.token == token))
        if existing is None:
            raise
        logger.info("Reminder action %s sent already; token reused by %s", existing.id, author)
        return SendResult(existing, is_new=False, mail_count=len(existing.sent))

    recipients = find_recipients(scope, student.id if student is not None else None)
    for recipient in recipients:
        queue_reminder(action, recipient, scope.campaign)
    db.session.flush()
    record_audit(
        author, "send_reminders", "campaign", scope.campaign.id, None,
        {
            "action_id": action.id, "vet_id": scope.vet_id, "student_id": action.student_id,
            "mail_count": len(recipients),
        },
    )
    logger.info(
        "Reminder action %s by %s on campaign %s: %s mail(s) queued",
        action.id, author, scope.campaign.code, len(recipients),
    )
    return SendResult(action, is_new=True, mail_count=len(recipients))


def queue_reminder(action: ReminderAction, recipient: Recipient, campaign: Campaign) -> ReminderSent:
    subject, body = render_reminder(recipient, campaign, student_locale(recipient.student))
    mail = queue_mail(recipient.student.full_name, recipient.student.email, subject, body)
    sent = ReminderSent(
        action_id=action.id, student_id=recipient.student.id, kind=recipient.kind, outbox_mail_id=mail.id,
    )
    db.session.add(sent)
    return sent


def campaigns_due(now_utc: datetime, days_before: set[int]) -> list[tuple[Campaign, int]]:
    """Return the open campaigns (web access on) that close in one of days_before Paris days."""
    today = clock.to_local(now_utc).date()
    campaigns = db.session.scalars(
        select(Campaign).where(Campaign.opens_at <= now_utc, Campaign.closes_at > now_utc).order_by(Campaign.code)
    )
    due = []
    for campaign in campaigns:
        days_left = (clock.to_local(campaign.closes_at).date() - today).days
        if days_left in days_before and campaign.cip.is_web_open:
            due.append((campaign, days_left))
    return due


def run_scheduled_reminders(scope: Scope, days_before: int, now_utc: datetime) -> ScheduledOutcome:
    """Send the campaign's reminders for today (Paris), unless its run for today exists already.

    The ScheduledReminderRun row is inserted first: its key (campaign, Paris date) lets one run
    a day through, even when two crons overlap.
    """
    campaign = scope.campaign
    run = ScheduledReminderRun(campaign_id=campaign.id, run_on=scope.today, days_before=days_before)
    try:
        with db.session.begin_nested():
            db.session.add(run)
    except IntegrityError:
        logger.info("Scheduled reminders of campaign %s already ran on %s", campaign.code, scope.today)
        return ScheduledOutcome(campaign, days_before, sent_count=None)

    token = f"schedule-{campaign.id}-{scope.today.isoformat()}"
    result = send_reminders(scope, token, SCHEDULE_AUTHOR, now_utc, is_scheduled=True)
    run.action_id = result.action.id
    db.session.flush()
    return ScheduledOutcome(campaign, days_before, sent_count=result.mail_count)
