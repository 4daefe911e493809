"""The outbox page for administrators: mails by status with their error, and the retry of a failed mail."""

import re
import uuid

import pytest
from sqlalchemy import select

from kiosk.extensions import db
from kiosk.models import AuditEntry, OutboxMail

from .factories import make_staff
from .helpers import csrf_token, log_in_staff

ERROR = "ConnectionRefusedError: [Errno 111] Connection refused"


def make_mail(clock, status: str, subject: str, attempts: int = 0, last_error: str | None = None) -> OutboxMail:
    mail = OutboxMail(
        message_id=f"<{uuid.uuid4().hex}@example.org>", sender_name="Scolarité", sender_address="scolarite@example.org",
        recipient_name="Zoé Lefèvre-Ngô", recipient_address="zoe.lefevre-ngo@example.org", subject=subject,
        body_text="Bonjour", status=status, attempts=attempts, last_error=last_error, created_at=clock.now,
        sent_at=clock.now if status == "sent" else None,
    )
    db.session.add(mail)
    db.session.flush()
    return mail


@pytest.fixture
def mails(world, clock):
    failed = make_mail(clock, "failed", "Courriel en échec", attempts=8, last_error=ERROR)
    pending = make_mail(clock, "pending", "Courriel en attente", attempts=1, last_error=ERROR)
    sent = make_mail(clock, "sent", "Courriel parti", attempts=1)
    db.session.commit()
    return {"failed": failed, "pending": pending, "sent": sent}


@pytest.fixture
def admin_client(client, world):
    make_staff("root", is_admin=True)
    db.session.commit()
    log_in_staff(client, "root")
    return client


def retry(client, mail: OutboxMail):
    token = csrf_token(client, "/gestion/courriels")
    return client.post(f"/gestion/courriels/{mail.id}/renvoi", data={"csrf_token": token})


def row_of(page: str, mail: OutboxMail) -> str:
    return re.search(rf'<tr class="mail-\w+" id="mail-{mail.id}">.*?</tr>', page, re.S).group(0)


def test_failed_mail_shows_error(admin_client, mails):
    page = admin_client.get("/gestion/courriels?statut=failed").get_data(as_text=True)
    row = row_of(page, mails["failed"])
    assert "Courriel en échec" in row
    assert "ConnectionRefusedError: [Errno 111] Connection refused" in row
    assert "Renvoyer" in row


def test_filter_by_status(admin_client, mails):
    page = admin_client.get("/gestion/courriels?statut=failed").get_data(as_text=True)
    assert "Courriel en attente" not in page
    assert "Courriel parti" not in page


def test_all_statuses_listed(admin_client, mails):
    page = admin_client.get("/gestion/courriels").get_data(as_text=True)
    for subject in ("Courriel en échec", "Courriel en attente", "Courriel parti"):
        assert subject in page


def test_unknown_status_rejected(admin_client, mails):
    assert admin_client.get("/gestion/courriels?statut=perdu").status_code == 400


def test_retry_sends_mail(app, admin_client, mails, smtp_server, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_PORT", smtp_server.port)
    response = retry(admin_client, mails["failed"])
    assert response.status_code == 302
    assert [message["Subject"] for message in smtp_server.messages()] == ["Courriel en échec"]
    mail = db.session.get(OutboxMail, mails["failed"].id)
    assert mail.status == "sent"
    assert mail.attempts == 1


def test_retry_sends_only_that_mail(app, admin_client, mails, smtp_server, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_PORT", smtp_server.port)
    retry(admin_client, mails["failed"])
    assert db.session.get(OutboxMail, mails["pending"].id).status == "pending"


def test_retry_with_smtp_down(admin_client, mails):
    # The session app's MAIL_PORT is 1, where nothing listens.
    response = retry(admin_client, mails["failed"])
    page = admin_client.get(response.headers["Location"]).get_data(as_text=True)
    mail = db.session.get(OutboxMail, mails["failed"].id)
    assert mail.status == "pending"
    assert mail.attempts == 1
    assert "reste en attente" in page


def test_retry_audited(admin_client, mails):
    retry(admin_client, mails["failed"])
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "requeue_mail"))
    assert entry.actor == "root"
    assert entry.object_id == str(mails["failed"].id)
    assert entry.before["status"] == "failed"
    assert entry.before["attempts"] == 8


def test_retry_of_sent_mail_rejected(admin_client, mails, smtp_server):
    retry(admin_client, mails["sent"])
    mail = db.session.get(OutboxMail, mails["sent"].id)
    assert mail.status == "sent"
    assert smtp_server.envelopes == []


def test_retry_needs_csrf(admin_client, mails):
    response = admin_client.post(f"/gestion/courriels/{mails['failed'].id}/renvoi")
    assert response.status_code == 400
    assert db.session.get(OutboxMail, mails["failed"].id).status == "failed"


def test_gestionnaire_forbidden(client, world, mails):
    make_staff("agnes", [world.cip])
    db.session.commit()
    log_in_staff(client, "agnes")
    assert client.get("/gestion/courriels").status_code == 403


def test_gestionnaire_cannot_retry(client, world, mails):
    make_staff("agnes", [world.cip])
    db.session.commit()
    log_in_staff(client, "agnes")
    token = csrf_token(client, "/gestion/")
    response = client.post(f"/gestion/courriels/{mails['failed'].id}/renvoi", data={"csrf_token": token})
    assert response.status_code == 403
