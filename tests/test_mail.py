"""The contract mail through the outbox, sent to real servers on loopback.

An aiosmtpd server plays the working SMTP relay. A closed port, and a server that accepts
TCP connections but never replies, play an outage.
"""

import socket
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select

from kiosk.extensions import db
from kiosk.models import Ip, OutboxMail
from kiosk.services.outbox import send_pending

from .factories import complete_choice
from .helpers import elements_form, log_in, post_form

EXPECTED_SUBJECT = "Votre contrat pédagogique 2026-2027 \u2013 Licence de test, 1re année (version 1)"
EXPECTED_FILENAME = "Contrat_pédagogique_Lefèvre-Ngô_Zoé_2026-2027.pdf"
# Time the validation itself may take on top of KIOSK_SMTP_TIMEOUT (PDF rendering included).
RESPONSE_MARGIN_SECONDS = 4.0


def free_port() -> int:
    """Return a loopback port that nothing listened on a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def silent_tcp_server():
    """Yield the port of a loopback server that accepts connections and never sends a byte."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stopping = threading.Event()
    connections = []

    def accept_and_hold():
        while not stopping.is_set():
            try:
                connection, _address = listener.accept()
            except TimeoutError:
                continue
            connections.append(connection)

    thread = threading.Thread(target=accept_and_hold, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stopping.set()
        thread.join()
        for connection in connections:
            connection.close()
        listener.close()


@dataclass
class Outage:
    port: int
    expected_error: str  # part of the last_error the failed send stores


@pytest.fixture(params=["closed", "silent"])
def outage(request):
    """A loopback port where SMTP fails because nothing listens or the server never replies."""
    if request.param == "closed":
        yield Outage(free_port(), "Connection refused")
    else:
        with silent_tcp_server() as port:
            yield Outage(port, "timed out")


@pytest.fixture
def socket_fallback_timeout():
    """Give sockets without their own timeout a 20 s one, so a lost SMTP timeout fails instead of hanging."""
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(20)
    yield
    socket.setdefaulttimeout(previous)


def validate_complete_choice(client, world):
    log_in(client, world.student.number)
    return post_form(client, f"/inscriptions/{world.ia.id}/validation", elements_form(complete_choice(world)))


def only_outbox_row() -> OutboxMail:
    db.session.expire_all()  # the CLI may have committed through another session
    rows = list(db.session.scalars(select(OutboxMail)))
    assert len(rows) == 1, rows
    return rows[0]


@pytest.fixture
def delivered_message(app, client, world, smtp_server, monkeypatch):
    """Validate Zoé's IP with the SMTP server up; return the message it received."""
    monkeypatch.setitem(app.config, "MAIL_PORT", smtp_server.port)
    response = validate_complete_choice(client, world)
    assert response.status_code == 302, response.get_data(as_text=True)
    assert len(smtp_server.envelopes) == 1
    return smtp_server.messages()[0]


def test_validation_sends_one_mail(delivered_message, smtp_server):
    envelope = smtp_server.envelopes[0]
    assert envelope.mail_from == "scolarite-lettres@example.org"
    assert envelope.rcpt_tos == ["zoe.lefevre-ngo@example.org"]
    row = only_outbox_row()
    assert row.status == "sent"
    assert row.attempts == 1
    assert row.last_error is None


def test_mail_from_header(delivered_message):
    senders = delivered_message["From"].addresses
    assert len(senders) == 1
    sender = senders[0]
    assert sender.display_name == "Scolarité UFR Lettres"
    assert sender.addr_spec == "scolarite-lettres@example.org"


def test_mail_to_header(delivered_message):
    recipients = delivered_message["To"].addresses
    assert len(recipients) == 1
    recipient = recipients[0]
    assert recipient.display_name == "Zoé Lefèvre-Ngô"
    assert recipient.addr_spec == "zoe.lefevre-ngo@example.org"


def test_mail_subject(delivered_message):
    assert delivered_message["Subject"] == EXPECTED_SUBJECT


def test_mail_message_id_is_stored(delivered_message):
    row = only_outbox_row()
    assert delivered_message["Message-ID"] == row.message_id


def test_attachment_matches_pdf_route(delivered_message, client):
    attachments = list(delivered_message.iter_attachments())
    assert len(attachments) == 1
    attachment = attachments[0]
    assert attachment.get_filename() == EXPECTED_FILENAME
    assert attachment.get_content_type() == "application/pdf"

    ip = db.session.scalar(select(Ip))
    download = client.get(f"/contrats/{ip.id}/v1.pdf")
    assert download.status_code == 200
    assert attachment.get_content() == download.data


def test_outage_keeps_mail_pending(app, client, world, outage, monkeypatch, socket_fallback_timeout):
    monkeypatch.setitem(app.config, "MAIL_PORT", outage.port)

    started = time.monotonic()
    response = validate_complete_choice(client, world)
    elapsed = time.monotonic() - started

    assert response.status_code == 302, response.get_data(as_text=True)
    assert elapsed < app.config["KIOSK_SMTP_TIMEOUT"] + RESPONSE_MARGIN_SECONDS
    row = only_outbox_row()
    assert row.status == "pending"
    assert row.attempts == 1
    assert outage.expected_error in row.last_error


def retry_with_function(app) -> None:
    send_pending()


def retry_with_cli(app) -> None:
    result = app.test_cli_runner().invoke(args=["send-mail"])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("retry", [retry_with_function, retry_with_cli], ids=["send_pending", "cli"])
def test_retry_delivers_once(app, client, world, outage, smtp_server, monkeypatch, retry):
    monkeypatch.setitem(app.config, "MAIL_PORT", outage.port)
    assert validate_complete_choice(client, world).status_code == 302
    assert smtp_server.envelopes == []

    monkeypatch.setitem(app.config, "MAIL_PORT", smtp_server.port)
    retry(app)
    assert len(smtp_server.envelopes) == 1
    row = only_outbox_row()
    assert row.status == "sent"
    assert row.attempts == 2

    retry(app)
    assert len(smtp_server.envelopes) == 1


def test_max_attempts_marks_failed(app, client, world, smtp_server, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_PORT", free_port())
    max_attempts = app.config["KIOSK_MAIL_MAX_ATTEMPTS"]
    assert validate_complete_choice(client, world).status_code == 302
    # The validation made attempt 1.
    for _attempt in range(max_attempts - 2):
        send_pending()
    row = only_outbox_row()
    assert row.attempts == max_attempts - 1
    assert row.status == "pending"

    send_pending()
    row = only_outbox_row()
    assert row.attempts == max_attempts
    assert row.status == "failed"

    monkeypatch.setitem(app.config, "MAIL_PORT", smtp_server.port)
    assert send_pending() == (0, 0)
    assert smtp_server.envelopes == []
    row = only_outbox_row()
    assert row.status == "failed"
    assert row.attempts == max_attempts


def test_rejected_validation_queues_nothing(app, client, world, smtp_server, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_PORT", smtp_server.port)
    log_in(client, world.student.number)
    incomplete = {world.key("CHOIX2", "UEA", "S1")}
    response = post_form(client, f"/inscriptions/{world.ia.id}/validation", elements_form(incomplete))
    assert response.status_code == 422
    assert db.session.scalar(select(func.count()).select_from(OutboxMail)) == 0
    assert smtp_server.envelopes == []
