"""The outbox: mails are rows written with the change that causes them, sent after the commit.

A request queues mails with queue_mail(); kiosk.transaction.commit() sends them once the
transaction is durable. Whatever fails to leave stays pending, and `flask --app kiosk send-mail`
(run by cron or by hand) retries it, so a down SMTP server loses nothing.
"""

import logging
import smtplib
import uuid
from email.utils import make_msgid

from flask import current_app, g
from flask_mail import Connection, Message
from sqlalchemy import select

from ..extensions import db
from ..models import OutboxMail
from . import clock

logger = logging.getLogger(__name__)


def queue_mail(
    recipient_name: str,
    recipient_address: str,
    subject: str,
    body_text: str,
    attachment_name: str | None = None,
    attachment_data: bytes | None = None,
) -> OutboxMail:
    """Add a pending mail to the session; the caller's transaction decides whether it exists."""
    sender_name, sender_address = current_app.config["KIOSK_MAIL_SENDER"]
    domain = sender_address.rpartition("@")[2] or "kiosk.invalid"
    row = OutboxMail(
        message_id=make_msgid(idstring=uuid.uuid4().hex[:12], domain=domain),
        sender_name=sender_name,
        sender_address=sender_address,
        recipient_name=recipient_name,
        recipient_address=recipient_address,
        subject=subject,
        body_text=body_text,
        attachment_name=attachment_name,
        attachment_data=attachment_data,
        status="pending",
        created_at=clock.utcnow(),
    )
    db.session.add(row)
    db.session.flush()
    g.setdefault("queued_mail_ids", []).append(row.id)
    return row


class TimedConnection(Connection):
    """A Flask-Mail connection whose SMTP socket gives up after KIOSK_SMTP_TIMEOUT seconds.

    The timeout bounds each blocking socket operation (connect, then each server reply), not
    the whole exchange. Server, port, TLS and login come from current_app.config at each
    connection rather than from the copy Flask-Mail took at init_app, so a config change
    applies to the next send.
    """

    def configure_host(self):
        config = current_app.config
        server = config["MAIL_SERVER"]
        port = config["MAIL_PORT"]
        timeout = config["KIOSK_SMTP_TIMEOUT"]
        if config["MAIL_USE_SSL"]:
            host = smtplib.SMTP_SSL(server, port, timeout=timeout)
        else:
            host = smtplib.SMTP(server, port, timeout=timeout)
        host.set_debuglevel(int(self.mail.debug))
        if config["MAIL_USE_TLS"]:
            host.starttls()
        if config["MAIL_USERNAME"] and config["MAIL_PASSWORD"]:
            host.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"])
        return host


def build_message(row: OutboxMail) -> Message:
    message = Message(
        subject=row.subject,
        sender=(row.sender_name, row.sender_address),
        recipients=[(row.recipient_name, row.recipient_address)],
        body=row.body_text,
    )
    message.msgId = row.message_id  # the stored id, so a resent copy can be recognised
    if row.attachment_data is not None:
        message.attach(row.attachment_name, "application/pdf", row.attachment_data)
    return message


def send_pending(only_ids: list[int] | None = None, limit: int = 100) -> tuple[int, int]:
    """Send pending mails, committing after each one; return (sent, failed) counts.

    The row is marked sent only after the SMTP server accepted the message; a crash between
    the two sends it again later with the same Message-ID, so a receiver can drop the copy.
    """
    max_attempts = current_app.config["KIOSK_MAIL_MAX_ATTEMPTS"]
    query = select(OutboxMail.id).where(
        OutboxMail.status == "pending", OutboxMail.attempts < max_attempts
    ).order_by(OutboxMail.id).limit(limit)
    if only_ids is not None:
        query = query.where(OutboxMail.id.in_(only_ids))
    ids = list(db.session.scalars(query))
    sent = failed = 0
    for mail_id in ids:
        if _send_one(mail_id, max_attempts):
            sent += 1
        else:
            failed += 1
    return sent, failed


def _send_one(mail_id: int, max_attempts: int) -> bool:
    row = db.session.get(OutboxMail, mail_id, with_for_update={"skip_locked": True})
    if row is None or row.status != "pending":
        db.session.rollback()
        return True
    try:
        with TimedConnection(current_app.extensions["mail"]) as connection:
            connection.send(build_message(row))
    except (OSError, smtplib.SMTPException, UnicodeError) as error:  # UnicodeError: an address or header SMTP cannot carry
        row.attempts += 1
        row.last_error = f"{type(error).__name__}: {error}"[:2000]
        if row.attempts >= max_attempts:
            row.status = "failed"
        db.session.commit()
        logger.warning(
            "Mail %s to outbox recipient failed (attempt %s of %s): %s",
            mail_id, row.attempts, max_attempts, row.last_error,
        )
        return False
    row.attempts += 1
    row.status = "sent"
    row.sent_at = clock.utcnow()
    row.last_error = None
    db.session.commit()
    logger.info("Mail %s sent (%s)", mail_id, row.message_id)
    return True


def send_queued_after_commit() -> None:
    """Send the mails this request queued; failures stay pending for the retry command."""
    ids = g.pop("queued_mail_ids", None)
    if ids:
        send_pending(only_ids=ids)
