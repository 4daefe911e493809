"""Demo-only pages that show the mails the demo SMTP sink (kiosk.demo.mail_sink) saved.

They read the .eml files directly inside KIOSK_DEMO_MAIL_DIR (default: instance/demo-mail)
and nothing else. The app registers this blueprint only when KIOSK_DEMO_LOGIN is on.
"""

import io
from dataclasses import dataclass
from datetime import datetime, timezone
from email import policy
from email.message import EmailMessage
from email.parser import BytesHeaderParser, BytesParser
from pathlib import Path

from flask import Blueprint, abort, current_app, render_template, send_file
from flask_babel import format_decimal

demo_mailbox = Blueprint("demo_mailbox", __name__)


@dataclass
class MailSummary:
    name: str
    received_at: datetime  # naive UTC, as the format_datetime_local filter expects
    recipients: str
    subject: str


@dataclass
class AttachmentSummary:
    index: int
    filename: str
    content_type: str
    size: str  # in bytes, formatted for the current locale


@demo_mailbox.before_request
def require_demo_mode():
    # The mails contain students' personal data, so these pages exist only with the demo login.
    if not current_app.config["KIOSK_DEMO_LOGIN"]:
        abort(404)


def mail_directory() -> Path:
    configured = current_app.config.get("KIOSK_DEMO_MAIL_DIR")
    return Path(configured) if configured else Path(current_app.instance_path) / "demo-mail"


def mail_path(name: str) -> Path:
    """Return the path of the .eml file `name` directly inside the mail directory, or 404."""
    if not is_mail_name(name):
        abort(404)
    path = mail_directory() / name
    if path.is_symlink() or not path.is_file():
        abort(404)
    return path


def is_mail_name(name: str) -> bool:
    """Return True if `name` can only name a visible .eml file directly in the mail directory."""
    has_separator = "/" in name or "\\" in name
    return not has_separator and ".." not in name and not name.startswith(".") and name.endswith(".eml")


def received_at(message: EmailMessage, path: Path) -> datetime:
    """Return the Date header as naive UTC, or the file's modification time if it has no valid date."""
    header = message["Date"]
    moment = header.datetime if header is not None else None
    if moment is None:
        moment = datetime.fromtimestamp(path.stat().st_mtime, timezone.utc)
    elif moment.tzinfo is None:
        # An RFC 5322 "-0000" offset means the sender did not know its zone, so the time is read as UTC.
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).replace(tzinfo=None)


def summarize(path: Path) -> MailSummary:
    with path.open("rb") as file:
        headers = BytesHeaderParser(policy=policy.default).parse(file)
    return MailSummary(
        name=path.name,
        received_at=received_at(headers, path),
        recipients=str(headers.get("To", "")),
        subject=str(headers.get("Subject", "")),
    )


def read_message(path: Path) -> EmailMessage:
    with path.open("rb") as file:
        return BytesParser(policy=policy.default).parse(file)


def attachment_bytes(part: EmailMessage) -> bytes:
    payload = part.get_payload(decode=True)
    # A multipart or message/rfc822 part has no single payload, so it is returned whole.
    return payload if payload is not None else part.as_bytes()


@demo_mailbox.get("/demo/courriels")
def list_mails():
    directory = mail_directory()
    paths = directory.iterdir() if directory.is_dir() else []
    mails = [
        summarize(path) for path in paths
        if is_mail_name(path.name) and not path.is_symlink() and path.is_file()
    ]
    mails.sort(key=lambda mail: mail.received_at, reverse=True)
    return render_template("demo/mailbox.html", mails=mails, directory=directory)


@demo_mailbox.get("/demo/courriels/<name>")
def show_mail(name: str):
    path = mail_path(name)
    message = read_message(path)
    body_part = message.get_body(preferencelist=("plain",))
    attachments = [
        AttachmentSummary(
            index=index,
            filename=part.get_filename() or "",
            content_type=part.get_content_type(),
            size=format_decimal(len(attachment_bytes(part))),
        )
        for index, part in enumerate(message.iter_attachments())
    ]
    return render_template(
        "demo/mail.html",
        name=name,
        message=message,
        received_at=received_at(message, path),
        body=body_part.get_content() if body_part is not None else None,
        attachments=attachments,
    )


@demo_mailbox.get("/demo/courriels/<name>/pieces-jointes/<int:index>")
def download_attachment(name: str, index: int):
    message = read_message(mail_path(name))
    parts = list(message.iter_attachments())
    if index >= len(parts):
        abort(404)
    part = parts[index]
    return send_file(
        io.BytesIO(attachment_bytes(part)),
        mimetype=part.get_content_type(),
        as_attachment=True,
        download_name=part.get_filename() or f"piece-jointe-{index + 1}",
    )
