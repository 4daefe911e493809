"""One commit per request, in one place, with the side effects that must follow it."""

from .extensions import db
from .services.outbox import send_queued_after_commit


def commit() -> None:
    """Commit the request's changes, then send the mails they queued."""
    db.session.commit()
    send_queued_after_commit()
