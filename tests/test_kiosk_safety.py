"""Shared terminals: idle timeout, htmx-aware expiry, logout everywhere, and expired CSRF tokens.

The server's side is kiosk/session_guard.py and kiosk/security.py; the countdown and the Back
button are checked in headless Chromium.
"""

import html
import logging
import re
import time

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from playwright.sync_api import expect
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict

from kiosk import session_guard
from kiosk.extensions import db
from kiosk.models import Ip, IpVersion

from .factories import complete_choice, make_collection
from .helpers import CSRF_PATTERN, csrf_token, elements_form, log_in, post_form
from .test_browser import element_box, log_in as browser_log_in, open_elements, toggle

EXPIRED_MESSAGE = "Votre session a expiré faute d'activité. Reconnectez-vous pour continuer."
PAGE_EXPIRED_MESSAGE = "Votre page a expiré : vérifiez vos choix et cliquez de nouveau sur Valider."


class SessionClock:
    """Replace session_guard.now_seconds with a clock that the test moves by hand."""

    def __init__(self, monkeypatch):
        self.now = int(time.time())
        monkeypatch.setattr(session_guard, "now_seconds", lambda: self.now)

    def advance(self, seconds: int) -> None:
        self.now += seconds


@pytest.fixture
def session_clock(monkeypatch):
    return SessionClock(monkeypatch)


def page_text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def test_idle_session_ends(client, world, session_clock):
    log_in(client, world.student.number)
    session_clock.advance(601)
    response = client.get("/dossier")
    assert response.status_code == 302
    assert response.headers["Location"] == "/connexion"
    assert EXPIRED_MESSAGE in page_text(client.get("/connexion"))
    assert client.get("/dossier").headers["Location"] == "/connexion"


def test_activity_keeps_session(client, world, session_clock):
    log_in(client, world.student.number)
    for _step in range(4):
        session_clock.advance(500)
        assert client.get("/dossier").status_code == 200


def test_htmx_change_is_activity(client, world, session_clock):
    log_in(client, world.student.number)
    session_clock.advance(500)
    response = post_form(client, f"/inscriptions/{world.ia.id}/selection", elements_form([]), htmx=True)
    assert response.status_code == 200
    session_clock.advance(500)
    assert client.get("/dossier").status_code == 200


def test_background_poll_not_activity(client, world, session_clock):
    log_in(client, world.student.number)
    session_clock.advance(500)
    poll = client.get(
        f"/inscriptions/{world.ia.id}/groupes", headers={"HX-Request": "true", "X-Kiosk-Background": "true"},
    )
    assert poll.status_code == 200
    session_clock.advance(200)
    assert client.get("/dossier").headers["Location"] == "/connexion"


def test_status_reports_remaining(client, world, session_clock):
    log_in(client, world.student.number)
    session_clock.advance(100)
    assert client.get("/session/etat").json == {"remaining_seconds": 500}
    session_clock.advance(100)
    assert client.get("/session/etat").json == {"remaining_seconds": 400}


def test_status_when_logged_out(client, world):
    assert client.get("/session/etat").json == {"remaining_seconds": 0}


def test_extend_is_activity(client, world, session_clock):
    log_in(client, world.student.number)
    session_clock.advance(500)
    token = csrf_token(client, "/dossier")
    session_clock.advance(50)
    assert client.post("/session/prolonger", headers={"X-CSRFToken": token}).status_code == 204
    assert client.get("/session/etat").json == {"remaining_seconds": 600}


def test_maximum_lifetime(client, world, session_clock):
    log_in(client, world.student.number)
    for _step in range(86):  # 86 × 500 s < 12 h
        session_clock.advance(500)
        assert client.get("/dossier").status_code == 200
    session_clock.advance(500)
    assert client.get("/dossier").headers["Location"] == "/connexion"


def test_expired_htmx_gets_hx_redirect(client, world, session_clock):
    log_in(client, world.student.number)
    token = csrf_token(client, "/dossier")
    session_clock.advance(601)
    response = client.post(
        f"/inscriptions/{world.ia.id}/selection", data={"element": []},
        headers={"HX-Request": "true", "X-CSRFToken": token},
    )
    assert response.status_code == 401
    assert response.headers["HX-Redirect"] == "/connexion"
    assert response.get_data() == b""


def test_expired_cas_session_leaves_cas(client, world, app, session_clock, monkeypatch):
    monkeypatch.setitem(app.config, "KIOSK_CAS_SERVER_URL", "https://cas.univ.example/cas/")
    log_in(client, world.student.number)
    with client.session_transaction() as session:
        session["login_method"] = "cas"
    session_clock.advance(601)
    location = client.get("/dossier").headers["Location"]
    assert location.startswith("https://cas.univ.example/cas/logout")


def test_anonymous_htmx_gets_hx_redirect(client, world):
    response = client.get(f"/inscriptions/{world.ia.id}/groupes", headers={"HX-Request": "true"})
    assert response.status_code == 401
    assert response.headers["HX-Redirect"] == "/connexion"


def test_expiry_log_names_no_student(client, world, session_clock, caplog):
    caplog.set_level(logging.INFO)
    log_in(client, world.student.number)
    session_clock.advance(601)
    client.get("/dossier")
    assert f"Session of student {world.student.id} ended" in caplog.text
    assert world.student.number not in caplog.text


def test_logout_clears_site_storage(client, world):
    log_in(client, world.student.number)
    response = post_form(client, "/deconnexion", {}, token_page="/dossier")
    assert response.headers["Location"] == "/connexion"
    assert response.headers["Clear-Site-Data"] == '"storage"'


def test_logout_with_stale_token(client, world):
    log_in(client, world.student.number)
    response = client.post("/deconnexion", data={"csrf_token": "jeton-perime"})
    assert response.headers["Location"] == "/connexion"
    assert client.get("/dossier").headers["Location"] == "/connexion"


def student_page_paths(app, world, contract_path: str) -> list[str]:
    """Return the path of every GET route of the student blueprint, filled with the student's ids."""
    ip_id, number = re.search(r"/contrats/(\d+)/v(\d+)", contract_path).groups()
    values = {"ia_id": world.ia.id, "ip_id": ip_id, "number": number}
    paths = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("student.") or "GET" not in rule.methods:
            continue
        missing = set(rule.arguments) - set(values)
        assert not missing, f"no value for {missing} in {rule.rule}: add it to student_page_paths"
        paths.append(re.sub(r"<(?:[^:>]+:)?([^>]+)>", lambda match: str(values[match.group(1)]), rule.rule))
    return paths


def test_every_student_page_has_logout(client, world, app):
    log_in(client, world.student.number)
    response = post_form(client, f"/inscriptions/{world.ia.id}/validation", elements_form(complete_choice(world)))
    contract_path = response.headers["Location"].removesuffix("/confirmation")

    checked = []
    for path in student_page_paths(app, world, contract_path):
        response = client.get(path, follow_redirects=True)
        if response.mimetype != "text/html":
            continue
        body = page_text(response)
        assert "Terminer et se déconnecter" in body, path
        assert 'id="idle-countdown"' in body, path
        checked.append(path)
    assert f"/inscriptions/{world.ia.id}/elements" in checked
    assert contract_path in checked


def expired_csrf_token(client, app, path: str) -> str:
    """GET path, then return a CSRF token for this session signed two hours ago (the limit is one hour)."""
    client.get(path)
    with client.session_transaction() as session:
        raw_token = session["csrf_token"]

    class TwoHoursAgoSigner(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - 7200

    secret = app.config.get("WTF_CSRF_SECRET_KEY") or app.config["SECRET_KEY"]
    serializer = URLSafeTimedSerializer(secret, salt="wtf-csrf-token", signer=TwoHoursAgoSigner)
    return serializer.dumps(raw_token)


def draft_keys(world) -> set[str]:
    ip = db.session.scalar(select(Ip).where(Ip.student_id == world.student.id))
    if ip is None:
        return set()
    return {f"{s.parent_elp_id or 0}-{s.lse_id}-{s.elp_id}" for s in ip.selections}


def version_count() -> int:
    return db.session.scalar(select(func.count()).select_from(IpVersion))


def test_expired_token_keeps_choices(client, world, app):
    log_in(client, world.student.number)
    elements_path = f"/inscriptions/{world.ia.id}/elements"
    expired_token = expired_csrf_token(client, app, elements_path)
    chosen = complete_choice(world)

    form = elements_form(chosen) + [("csrf_token", expired_token), ("base_version", "0")]
    response = client.post(f"/inscriptions/{world.ia.id}/validation", data=MultiDict(form))
    body = page_text(response)
    assert response.status_code == 400
    assert PAGE_EXPIRED_MESSAGE in body
    for key in chosen:
        assert re.search(rf'id="e-{key}" name="element" value="{key}" checked', body), key
    assert version_count() == 0
    assert draft_keys(world) == set()

    # One more click, with the fresh token of the page, validates.
    fresh_token = CSRF_PATTERN.search(body).group(1)
    form = elements_form(chosen) + [("csrf_token", fresh_token), ("base_version", "0")]
    response = client.post(f"/inscriptions/{world.ia.id}/validation", data=MultiDict(form))
    assert response.status_code == 302
    assert version_count() == 1


def test_expired_token_on_draft_save(client, world, app):
    log_in(client, world.student.number)
    expired_token = expired_csrf_token(client, app, f"/inscriptions/{world.ia.id}/elements")
    key = world.key("CHOIX2", "UEB", "S1")

    form = [("element", key), ("csrf_token", expired_token)]
    response = client.post(f"/inscriptions/{world.ia.id}/selection", data=MultiDict(form))
    assert response.status_code == 400
    assert PAGE_EXPIRED_MESSAGE in page_text(response)
    assert draft_keys(world) == set()


def test_expired_token_on_htmx_save(client, world, app):
    log_in(client, world.student.number)
    expired_token = expired_csrf_token(client, app, f"/inscriptions/{world.ia.id}/elements")
    response = client.post(
        f"/inscriptions/{world.ia.id}/selection", data={"element": world.key("CHOIX2", "UEB", "S1")},
        headers={"HX-Request": "true", "X-CSRFToken": expired_token},
    )
    assert response.status_code == 400
    assert response.headers["X-Kiosk-Page-Expired"] == "true"
    assert draft_keys(world) == set()


def test_expired_token_other_student_ia(client, world, app):
    from .factories import make_ia, make_student

    other = make_student("22600002", "Paul", "Martin")
    other_ia = make_ia(other, world.vet)
    db.session.commit()
    log_in(client, world.student.number)
    expired_token = expired_csrf_token(client, app, "/dossier")
    form = elements_form(complete_choice(world)) + [("csrf_token", expired_token)]
    response = client.post(f"/inscriptions/{other_ia.id}/validation", data=MultiDict(form))
    assert response.status_code == 400
    assert PAGE_EXPIRED_MESSAGE not in page_text(response)


def test_countdown_warns_then_logs_out(world, browser_page, app, monkeypatch):
    page = browser_page
    monkeypatch.setitem(app.config, "KIOSK_IDLE_TIMEOUT", 4)
    browser_log_in(page, world.student.number)
    countdown = page.locator("#idle-countdown")
    expect(countdown).to_be_visible()

    # With 4 s in all, the last minute has begun: the warning and its button show at once.
    expect(countdown.locator(".idle-announcement")).to_contain_text("moins d'une minute")
    expect(countdown.get_by_role("button", name="Rester connecté")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/connexion$"), timeout=10000)
    page.wait_for_load_state("load")
    expect(page.get_by_text(EXPIRED_MESSAGE)).to_be_visible()
    expect(page.get_by_text(world.student.full_name)).to_have_count(0)


def test_countdown_stay_button(world, browser_page, app, monkeypatch):
    page = browser_page
    monkeypatch.setitem(app.config, "KIOSK_IDLE_TIMEOUT", 5)
    browser_log_in(page, world.student.number)
    time_text = page.locator("#idle-countdown .idle-time")
    expect(time_text).to_have_text("0:03", timeout=4000)
    with page.expect_response(re.compile(r"/session/prolonger$")) as response_info:
        page.get_by_role("button", name="Rester connecté").click()
    assert response_info.value.status == 204
    expect(time_text).to_have_text(re.compile(r"^0:0[45]$"))
    assert page.url.endswith("/dossier")


def test_countdown_counts_down(world, browser_page):
    page = browser_page
    browser_log_in(page, world.student.number)
    time_text = page.locator("#idle-countdown .idle-time")
    expect(time_text).to_have_text(re.compile(r"^(10:00|9:59)$"))
    expect(time_text).to_have_text("9:58", timeout=4000)
    expect(page.locator("#idle-countdown .idle-extend")).to_be_hidden()


def test_poll_marked_as_background(world, browser_page):
    page = browser_page
    browser_log_in(page, world.student.number)
    page.wait_for_load_state("load")  # kiosk.js is deferred: its listeners exist once the page has loaded
    # htmx gives polling requests no triggering event; a click gives one.
    headers = page.evaluate(
        """() => {
            const send = (triggeringEvent) => {
                const detail = {headers: {}, triggeringEvent};
                document.body.dispatchEvent(new CustomEvent("htmx:configRequest", {detail}));
                return detail.headers;
            };
            return {poll: send(undefined), click: send(new Event("click"))};
        }"""
    )
    assert headers["poll"] == {"X-Kiosk-Background": "true"}
    assert headers["click"] == {}


def test_htmx_after_expiry_goes_to_login(world, browser_page, monkeypatch):
    page = browser_page
    browser_log_in(page, world.student.number)
    open_elements(page)
    later = int(time.time()) + 601
    monkeypatch.setattr(session_guard, "now_seconds", lambda: later)

    element_box(page, world, "CHOIX2", "UEB", "S1").click()
    expect(page).to_have_url(re.compile(r"/connexion$"))
    page.wait_for_load_state("load")
    expect(page.get_by_text(EXPIRED_MESSAGE)).to_be_visible()
    expect(page.locator("#ip-tree")).to_have_count(0)


def test_back_after_logout_shows_nothing(world, browser_page):
    page = browser_page
    collection = make_collection(world.campaign, world.elps["UEA"], "TDA", [("TD1", 15, None)])
    db.session.commit()
    browser_log_in(page, world.student.number)
    open_elements(page)
    toggle(page, element_box(page, world, "CHOIX2", "UEA", "S1"))
    expect(page.locator(f"#collection-{collection.id}")).to_be_visible()

    page.get_by_role("button", name="Terminer et se déconnecter").click()
    expect(page).to_have_url(re.compile(r"/connexion$"))
    page.wait_for_load_state("load")
    for _step in range(3):
        page.go_back()
        expect(page).to_have_url(re.compile(r"/connexion$"))
        page.wait_for_load_state("load")
        expect(page.get_by_text(world.student.full_name)).to_have_count(0)
        expect(page.locator("#ip-tree")).to_have_count(0)
    # htmx keeps no snapshot of the pages in sessionStorage, where htmx 2 would put them.
    assert page.evaluate("() => sessionStorage.getItem('htmx-history-cache')") in (None, "[]")
