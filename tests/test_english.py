"""The kiosk in English: a complete catalog, no French left on the student's pages, mails and PDF.

French is the source language, so the message ids are the French texts. A page rendered in
English must contain none of their phrases (runs of two words or more between placeholders)
that the English translation does not share.
"""

import io
import re
from html.parser import HTMLParser

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from flask import session
from pypdf import PdfReader
from sqlalchemy import select

from kiosk.extensions import db
from kiosk.models import Ip, OutboxMail, Vet
from kiosk.services.contract import queue_contract_mail

from .factories import PROJECT_ROOT, complete_choice, make_collection, make_ia
from .helpers import csrf_token, elements_form, log_in, post_form

ENGLISH_CATALOG = PROJECT_ROOT / "kiosk" / "translations" / "en" / "LC_MESSAGES" / "messages.po"
# The keywords kiosk.i18n.update_catalogs passes to pybabel extract.
KEYWORDS = {**DEFAULT_KEYWORDS, "lazy_gettext": None, "_l": None}
PLACEHOLDER = re.compile(r"%(?:\(\w+\))?[-#0 +]*\d*(?:\.\d+)?[sdifxXr%]")
WORD = re.compile(r"\w+")
SPACES = re.compile(r"[\s\u00a0\u202f]+")
PUNCTUATION = " .,:;!?«»“”()…–-'’"


def normalize(text: str) -> str:
    return SPACES.sub(" ", text).strip()


def read_english_catalog():
    with ENGLISH_CATALOG.open("rb") as source:
        return read_po(source, locale="en")


def extracted_messages() -> set[tuple]:
    """Extract the (context, id) of each message of kiosk/ and templates/, as `flask --app kiosk translations --update` does."""
    with (PROJECT_ROOT / "babel.cfg").open() as mapping:
        method_map, options_map = parse_mapping_cfg(mapping)
    found = set()
    for _filename, _lineno, message, _comments, context in extract_from_dir(
        PROJECT_ROOT, method_map, options_map, keywords=KEYWORDS,
    ):
        found.add((context, message if isinstance(message, str) else tuple(message)))
    return found


def french_phrases() -> set[str]:
    """Return the phrases of the French message ids that their English translation does not contain."""
    phrases = set()
    for message in read_english_catalog():
        if not message.id:
            continue
        msgids = message.id if isinstance(message.id, tuple) else (message.id,)
        translations = message.string if isinstance(message.string, tuple) else (message.string,)
        english = normalize(" ".join(translations))
        for msgid in msgids:
            for piece in PLACEHOLDER.split(msgid):
                phrase = normalize(piece).strip(PUNCTUATION)
                if len(WORD.findall(phrase)) >= 2 and phrase not in english:
                    phrases.add(phrase)
    return phrases


class ReadableText(HTMLParser):
    """Collect what a user reads or hears: the text, and the attributes that screen readers speak."""

    SPOKEN_ATTRIBUTES = ("aria-label", "title", "alt", "placeholder")

    def __init__(self):
        super().__init__()
        self.parts: list[str] = []
        self.hidden_depth = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self.hidden_depth += 1
        for name, value in attrs:
            # data-*-text attributes hold messages that kiosk.js shows later.
            if value and (name in self.SPOKEN_ATTRIBUTES or name.startswith("data-") and name.endswith("-text")):
                self.parts.append(value)

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self.hidden_depth -= 1

    def handle_data(self, data):
        if not self.hidden_depth:
            self.parts.append(data)


def readable_text(html: str) -> str:
    parser = ReadableText()
    parser.feed(html)
    return normalize(" ".join(parser.parts))


def french_left_in(text: str, phrases: set[str]) -> list[str]:
    text = normalize(text)
    return sorted(phrase for phrase in phrases if phrase in text)


def choose_english(client) -> None:
    response = post_form(client, "/langue/en", {"next": "/connexion"}, token_page="/connexion")
    assert response.status_code == 302


def htmx_post(client, path: str, data) -> str:
    return post_form(client, path, data, htmx=True).get_data(as_text=True)


@pytest.fixture
def groups(world):
    """A TD on the compulsory UE: TD1 free, TD2 full with a waitlist; an automatic collection on the VET."""
    td = make_collection(world.campaign, world.elps["UEOBL"], "TD", [("TD1", 5, None), ("TD2", 1, None)], has_waitlist=True)
    make_collection(world.campaign, world.vet, "AMPHI", [("AMPHI1", 30, None)], mode="auto", label="Amphi")
    by_code = {group.code: group for group in td.groups}
    by_code["TD2"].seats_taken = 1
    db.session.commit()
    return td, by_code


@pytest.fixture
def unpaid_ia(world):
    """A second IA of the world's student, awaiting payment: the web IP is refused for it."""
    vet = Vet(code="TESTV2", version="1", label="Licence de test, 2e année", cip_id=world.cip.id)
    db.session.add(vet)
    db.session.flush()
    ia = make_ia(world.student, vet, payment_state="A")
    db.session.commit()
    return ia


@pytest.fixture
def english_pages(client, world, groups, unpaid_ia) -> dict[str, str]:
    """Walk the student's whole path in English with the test client; return each page's HTML by name."""
    td, td_groups = groups
    ia_path = f"/inscriptions/{world.ia.id}"
    pages = {}

    choose_english(client)
    pages["login"] = client.get("/connexion").get_data(as_text=True)
    pages["login error"] = post_form(client, "/connexion", {"student_number": "00000000"}, token_page="/connexion").get_data(as_text=True)
    log_in(client, world.student.number)
    pages["profile"] = client.get("/dossier").get_data(as_text=True)
    pages["profile errors"] = post_form(client, "/dossier", {"email": "not-an-address", "phone": "12"}).get_data(as_text=True)
    pages["personal data"] = client.get("/dossier/donnees-personnelles").get_data(as_text=True)
    pages["registrations"] = client.get("/inscriptions").get_data(as_text=True)
    pages["closed"] = client.get(f"/inscriptions/{unpaid_ia.id}/elements").get_data(as_text=True)
    pages["elements"] = client.get(f"{ia_path}/elements").get_data(as_text=True)

    too_many = [world.key("CHOIX2", code, "S1") for code in ("UEA", "UEB", "UEC")]
    pages["tree over maximum"] = htmx_post(client, f"{ia_path}/selection", elements_form(too_many))
    pages["validation refused"] = post_form(client, f"{ia_path}/validation", elements_form(too_many[:1])).get_data(as_text=True)

    pages["group full"] = htmx_post(client, f"{ia_path}/groupes/{td.id}", {"group": td_groups["TD2"].id})
    pages["waitlist joined"] = htmx_post(client, f"{ia_path}/groupes/{td.id}/attente", {"group": td_groups["TD2"].id})
    pages["group chosen"] = htmx_post(client, f"{ia_path}/groupes/{td.id}", {"group": td_groups["TD1"].id})

    validation = post_form(client, f"{ia_path}/validation", elements_form(complete_choice(world)))
    assert validation.status_code == 302, validation.get_data(as_text=True)
    pages["confirmation"] = client.get(validation.headers["Location"]).get_data(as_text=True)
    ip = db.session.scalar(select(Ip).where(Ip.student_id == world.student.id))
    post_form(client, f"/contrats/{ip.id}/v1/envoi", {})
    pages["contract"] = client.get(f"/contrats/{ip.id}/v1").get_data(as_text=True)
    pages["not found"] = client.get("/page-inconnue").get_data(as_text=True)
    return pages


def test_catalog_has_every_message():
    translated = {
        (message.context, message.id) for message in read_english_catalog()
        if message.id and message.string and all(message.string)
    }
    missing = sorted(map(str, extracted_messages() - translated))
    assert missing == [], f"{len(missing)} message(s) not translated in {ENGLISH_CATALOG}: {missing}"


def test_catalog_has_no_fuzzy_entry():
    fuzzy = [str(message.id) for message in read_english_catalog() if message.id and message.fuzzy]
    assert fuzzy == []


def test_translations_keep_placeholders():
    changed = []
    for message in read_english_catalog():
        if not message.id:
            continue
        msgids = message.id if isinstance(message.id, tuple) else (message.id,)
        translations = message.string if isinstance(message.string, tuple) else (message.string,)
        for msgid, translation in zip(msgids, translations):
            if sorted(PLACEHOLDER.findall(translation)) != sorted(PLACEHOLDER.findall(msgid)):
                changed.append((msgid, translation))
    assert changed == []


def test_detector_finds_french():
    french = readable_text("<p>Votre inscription pédagogique est validée</p>")
    assert "Votre inscription pédagogique est validée" in french_left_in(french, french_phrases())


def test_pages_have_no_french(english_pages):
    phrases = french_phrases()
    left = {name: french_left_in(readable_text(html), phrases) for name, html in english_pages.items()}
    assert {name: found for name, found in left.items() if found} == {}


def test_pages_declare_english(english_pages):
    full_pages = {name: html for name, html in english_pages.items() if "<html" in html}
    not_english = [name for name, html in full_pages.items() if '<html lang="en">' not in html]
    assert len(full_pages) >= 12
    assert not_english == []


def test_mail_in_english(english_pages, world):
    phrases = french_phrases()
    mails = db.session.scalars(select(OutboxMail).order_by(OutboxMail.id)).all()
    assert len(mails) == 2  # the validation's, then the one the student asked for
    for mail in mails:
        assert mail.subject.startswith("Your learning agreement 2026-2027")
        assert "Your learning agreement is attached as a PDF." in mail.body_text
        assert french_left_in(mail.subject + " " + mail.body_text, phrases) == []
        assert mail.attachment_name == "Learning_agreement_Lefèvre-Ngô_Zoé_2026-2027.pdf"


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def test_mail_pdf_in_english(english_pages):
    mail = db.session.scalars(select(OutboxMail).order_by(OutboxMail.id)).first()
    text = pdf_text(mail.attachment_data)
    assert "Learning agreement 2026-2027" in text
    assert french_left_in(text, french_phrases()) == []


def test_pdf_download_in_english(english_pages, client, world):
    log_in(client, world.student.number)
    ip = db.session.scalar(select(Ip).where(Ip.student_id == world.student.id))
    response = client.get(f"/contrats/{ip.id}/v1.pdf")
    text = pdf_text(response.get_data())
    assert response.mimetype == "application/pdf"
    assert "Learning agreement 2026-2027" in text
    assert "Total credits" in text
    assert french_left_in(text, french_phrases()) == []


def test_pdf_download_in_french_after_english(english_pages, client, world):
    log_in(client, world.student.number)
    post_form(client, "/langue/fr", {})
    ip = db.session.scalar(select(Ip).where(Ip.student_id == world.student.id))
    text = pdf_text(client.get(f"/contrats/{ip.id}/v1.pdf").get_data())
    assert "Contrat pédagogique 2026-2027" in text


def test_mail_follows_student_not_request(app, world):
    """A mail queued in a French request (staff at the desk) reaches an English-speaking student in English."""
    from kiosk.services.ip import open_ip, validate_ip
    from kiosk.services import clock

    world.student.locale = "en"
    with app.test_request_context("/gestion/"):
        assert session.get("locale") is None
        context = open_ip(world.ia, clock.utcnow())
        version = validate_ip(context, complete_choice(world), False, actor="gestionnaire", now_utc=clock.utcnow())
        mail = queue_contract_mail(world.student, version)
    assert mail.subject.startswith("Your learning agreement")
    assert mail.attachment_name.startswith("Learning_agreement_")


def test_promotion_mail_follows_student(app, world, clock):
    """A seat freed by another student's request reaches the waiting English-speaking student in English."""
    from kiosk.models import WaitlistEntry
    from kiosk.services.groups import promote_waitlist

    td = make_collection(world.campaign, world.elps["UEOBL"], "TD", [("TD1", 1, None)], has_waitlist=True)
    group = td.groups[0]
    world.student.locale = "en"
    db.session.add(WaitlistEntry(group_id=group.id, student_id=world.student.id, created_at=clock.now))
    db.session.flush()
    with app.test_request_context("/inscriptions"):
        promote_waitlist(group.id, clock.now)
    mail = db.session.scalar(select(OutboxMail))
    assert mail.subject == "A seat became free: you are now in TD1 – UE obligatoire"
    assert "you have left the waiting list" in mail.body_text


def test_choice_remembered_across_sessions(client, world):
    log_in(client, world.student.number)
    post_form(client, "/langue/en", {})
    post_form(client, "/deconnexion", {})
    french_login = client.get("/connexion").get_data(as_text=True)
    log_in(client, world.student.number)
    english_profile = client.get("/dossier").get_data(as_text=True)
    assert '<html lang="fr">' in french_login
    assert '<html lang="en">' in english_profile
    assert world.student.locale == "en"


def test_choice_before_login_is_stored(client, world):
    choose_english(client)
    log_in(client, world.student.number)
    assert world.student.locale == "en"


def test_switch_returns_to_page(client, world):
    log_in(client, world.student.number)
    response = post_form(client, "/langue/en", {"next": "/inscriptions"})
    assert response.headers["Location"] == "/inscriptions"


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/\\evil.example", ""])
def test_switch_rejects_other_sites(client, world, target):
    response = post_form(client, "/langue/en", {"next": target}, token_page="/connexion")
    assert response.headers["Location"] == "/"


def test_switch_rejects_unknown_language(client, world):
    response = post_form(client, "/langue/de", {}, token_page="/connexion")
    assert response.status_code == 404


def test_switch_needs_csrf_token(client, world):
    csrf_token(client)
    response = client.post("/langue/en", data={"next": "/connexion"})
    assert response.status_code == 400


def test_switch_on_every_page(client, world):
    log_in(client, world.student.number)
    profile = client.get("/dossier").get_data(as_text=True)
    post_form(client, "/langue/en", {})
    english_profile = client.get("/dossier").get_data(as_text=True)
    assert 'lang="en">English</button>' in profile
    assert 'lang="fr">Français</button>' in english_profile
