"""The demo mailbox pages, which show the .eml files the demo SMTP sink saved."""

from email.message import EmailMessage

import pytest

from kiosk import create_app
from kiosk.extensions import db

MAIL_NAME = "20261204T100000.000000Z-0a1b2c3d.eml"
PDF_BYTES = b"%PDF-1.4\n% not a real contract\n%%EOF\n"
PDF_NAME = "Contrat_pédagogique_Lefèvre-Ngô_Zoé_2026-2027.pdf"


def make_app(app, **settings):
    """Build an app on the session app's database, so each test sets KIOSK_DEMO_LOGIN for create_app."""
    return create_app({
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
        "SQLALCHEMY_ENGINE_OPTIONS": app.config["SQLALCHEMY_ENGINE_OPTIONS"],
        **settings,
    })


def write_contract_mail(path) -> None:
    message = EmailMessage()
    message["From"] = "Scolarité UFR Lettres <scolarite-lettres@example.org>"
    message["To"] = "Zoé Lefèvre-Ngô <zoe.lefevre-ngo@example.org>"
    message["Subject"] = "Votre contrat pédagogique 2026-2027 \u2013 Licence de test (version 1)"
    message["Date"] = "Fri, 04 Dec 2026 10:00:00 +0000"
    message["Message-ID"] = "<demo-1@example.org>"
    message.set_content("Bonjour Zoé Lefèvre-Ngô,\n\nVotre contrat est en pièce jointe.\n")
    message.add_attachment(PDF_BYTES, maintype="application", subtype="pdf", filename=PDF_NAME)
    path.write_bytes(message.as_bytes())


@pytest.fixture
def mail_dir(tmp_path):
    """A mail directory with one readable mail, files the pages must skip, and a mail outside it."""
    directory = tmp_path / "demo-mail"
    directory.mkdir()
    write_contract_mail(directory / MAIL_NAME)
    (directory / "notes.txt").write_text("not a mail")
    write_contract_mail(directory / "two..dots.eml")
    write_contract_mail(tmp_path / "outside.eml")
    (directory / "link.eml").symlink_to(tmp_path / "outside.eml")
    return directory


@pytest.fixture
def mailbox_client(app, mail_dir):
    demo_app = make_app(app, KIOSK_DEMO_LOGIN=True, KIOSK_DEMO_MAIL_DIR=str(mail_dir))
    yield demo_app.test_client()
    with demo_app.app_context():
        db.engine.dispose()


def test_mailbox_lists_mail(mailbox_client):
    response = mailbox_client.get("/demo/courriels")
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert f'href="/demo/courriels/{MAIL_NAME}"' in text
    assert "Votre contrat pédagogique 2026-2027 \u2013 Licence de test (version 1)" in text
    assert "Zoé Lefèvre-Ngô" in text
    assert "4 décembre 2026 à 11:00" in text  # the Date header, in Paris time
    assert text.count('href="/demo/courriels/') == 1


def test_mailbox_lists_nothing(app, tmp_path):
    demo_app = make_app(app, KIOSK_DEMO_LOGIN=True, KIOSK_DEMO_MAIL_DIR=str(tmp_path / "missing"))
    response = demo_app.test_client().get("/demo/courriels")
    assert response.status_code == 200
    assert "Aucun courriel reçu" in response.get_data(as_text=True)
    with demo_app.app_context():
        db.engine.dispose()


def test_mailbox_shows_mail(mailbox_client):
    response = mailbox_client.get(f"/demo/courriels/{MAIL_NAME}")
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert "Scolarité UFR Lettres" in text
    assert "zoe.lefevre-ngo@example.org" in text
    assert "Votre contrat est en pièce jointe." in text
    assert "&lt;demo-1@example.org&gt;" in text
    assert PDF_NAME in text
    assert f'href="/demo/courriels/{MAIL_NAME}/pieces-jointes/0"' in text


def test_mailbox_downloads_attachment(mailbox_client):
    response = mailbox_client.get(f"/demo/courriels/{MAIL_NAME}/pieces-jointes/0")
    assert response.status_code == 200
    assert response.data == PDF_BYTES
    assert response.mimetype == "application/pdf"
    assert "attachment" in response.headers["Content-Disposition"]


def test_mailbox_unknown_attachment(mailbox_client):
    assert mailbox_client.get(f"/demo/courriels/{MAIL_NAME}/pieces-jointes/1").status_code == 404


@pytest.mark.parametrize("name", [
    "../outside.eml",
    "..%2Foutside.eml",
    "..%5Coutside.eml",
    "two..dots.eml",
    "link.eml",
    "notes.txt",
    "missing.eml",
])
def test_mailbox_rejects_name(mailbox_client, name):
    assert mailbox_client.get(f"/demo/courriels/{name}").status_code == 404
    assert mailbox_client.get(f"/demo/courriels/{name}/pieces-jointes/0").status_code == 404


def test_mailbox_absent_without_demo(app, mail_dir):
    demo_app = make_app(app, KIOSK_DEMO_LOGIN=False, KIOSK_DEMO_MAIL_DIR=str(mail_dir))
    assert demo_app.test_client().get("/demo/courriels").status_code == 404
    with demo_app.app_context():
        db.engine.dispose()
