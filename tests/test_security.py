"""Security headers, cookies, error pages, rate limits and logs (kiosk/security.py, kiosk/web.py).

The rate limits count in the Redis of the test run (see conftest.RATE_LIMIT_KEY_PREFIX); one
test proves that two app instances share them through Redis.
"""

import html
import logging
import re
import uuid
from http.cookies import SimpleCookie

import pytest
from flask import abort
from limits.storage import RedisStorage
from playwright.sync_api import expect
from sqlalchemy import select

from kiosk import create_app
from kiosk.extensions import db
from kiosk.models import GroupMembership
from kiosk.security import limited_endpoints

from .factories import complete_choice, make_collection, make_staff
from .helpers import csrf_token, elements_form, log_in, post_form
from .test_browser import element_box, log_in as browser_log_in, open_elements, swap_after, toggle

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Permissions-Policy": "camera=(), geolocation=(), microphone=(), payment=(), usb=()",
}
CSP_DIRECTIVES = [
    "default-src 'self'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'",
    "form-action 'self'", "base-uri 'none'", "object-src 'none'",
]


@pytest.fixture
def make_app(app):
    """Return a function that creates another kiosk app on the test database: make(**settings)."""
    created = []

    def make(**settings):
        other = create_app({
            "TESTING": True,
            "SECRET_KEY": app.config["SECRET_KEY"],
            "KIOSK_DEMO_LOGIN": True,
            "KIOSK_ACADEMIC_YEAR": 2026,
            "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
            "SQLALCHEMY_ENGINE_OPTIONS": app.config["SQLALCHEMY_ENGINE_OPTIONS"],
            "KIOSK_RATELIMIT_KEY_PREFIX": app.config["KIOSK_RATELIMIT_KEY_PREFIX"],
            **settings,
        })
        created.append(other)
        return other

    yield make
    for other in created:
        with other.app_context():
            db.engine.dispose()


def validate_complete(client, world) -> str:
    """Validate a complete IP and return the contract page's path (/contrats/<ip>/v1)."""
    response = post_form(client, f"/inscriptions/{world.ia.id}/validation", elements_form(complete_choice(world)))
    assert response.status_code == 302, response.get_data(as_text=True)
    return response.headers["Location"].removesuffix("/confirmation")


def responses_of_every_kind(client, world) -> dict:
    """Return one response of each kind the kiosk sends: page, fragment, PDF, error, redirect, static."""
    responses = {"redirect": client.get("/"), "login page": client.get("/connexion")}
    log_in(client, world.student.number)
    contract_path = validate_complete(client, world)
    responses["page"] = client.get("/dossier")
    responses["fragment"] = post_form(
        client, f"/inscriptions/{world.ia.id}/selection", elements_form(complete_choice(world)), htmx=True,
    )
    responses["PDF"] = client.get(contract_path + ".pdf")
    responses["error"] = client.get("/inscriptions/999999/elements")
    responses["static"] = client.get("/static/css/kiosk.css")
    return responses


def test_headers_on_every_kind(client, world):
    responses = responses_of_every_kind(client, world)
    expected_status = {
        "redirect": 302, "login page": 200, "page": 200, "fragment": 200, "PDF": 200, "error": 404, "static": 200,
    }
    for kind, response in responses.items():
        assert response.status_code == expected_status[kind], kind
        for name, value in SECURITY_HEADERS.items():
            assert response.headers.get(name) == value, f"{name} on the {kind} response"
        policy = response.headers.get("Content-Security-Policy", "")
        for directive in CSP_DIRECTIVES:
            assert directive in policy, f"{directive} in the CSP of the {kind} response"


def test_no_store_except_static(client, world):
    responses = responses_of_every_kind(client, world)
    static = responses.pop("static")
    for kind, response in responses.items():
        assert response.headers.get("Cache-Control") == "no-store", kind
    assert "no-store" not in static.headers.get("Cache-Control", "")


def test_no_hsts_over_http(client, world):
    assert "Strict-Transport-Security" not in client.get("/connexion").headers


def test_hsts_when_https(make_app):
    https_app = make_app(KIOSK_HTTPS=True)
    response = https_app.test_client().get("/connexion")
    assert response.headers.get("Strict-Transport-Security") == "max-age=31536000; includeSubDomains"


def test_https_default_outside_tests_and_demo(make_app):
    production = make_app(TESTING=False, KIOSK_DEMO_LOGIN=False)
    demo = make_app(TESTING=False, KIOSK_DEMO_LOGIN=True)
    assert production.config["KIOSK_HTTPS"] is True
    assert demo.config["KIOSK_HTTPS"] is False


def test_csp_allows_cas_logout_redirect(make_app):
    cas_app = make_app(KIOSK_CAS_SERVER_URL="https://cas.univ.example/cas/")
    policy = cas_app.test_client().get("/connexion").headers["Content-Security-Policy"]
    assert "form-action 'self' https://cas.univ.example" in policy


def session_cookie_attributes(response, name: str) -> dict:
    for header in response.headers.getlist("Set-Cookie"):
        cookie = SimpleCookie()
        cookie.load(header)
        if name in cookie:
            morsel = cookie[name]
            return {"secure": bool(morsel["secure"]), "httponly": bool(morsel["httponly"]), "samesite": morsel["samesite"]}
    raise AssertionError(f"no {name} cookie in {response.headers.getlist('Set-Cookie')}")


def test_session_cookie_flags_https(make_app):
    https_app = make_app(KIOSK_HTTPS=True)
    attributes = session_cookie_attributes(https_app.test_client().get("/connexion"), "__Host-session")
    assert attributes["secure"] is True
    assert attributes["httponly"] is True
    assert attributes["samesite"] == "Lax"


def test_session_cookie_flags_http(client, world):
    attributes = session_cookie_attributes(client.get("/connexion"), "session")
    assert attributes["httponly"] is True
    assert attributes["samesite"] == "Lax"


def test_login_changes_session_cookie(client, world):
    client.get("/connexion")
    before = client.get_cookie("session").value
    log_in(client, world.student.number)
    after = client.get_cookie("session").value
    assert after != before

    # The cookie from before the login does not carry the login.
    client.set_cookie("session", before)
    assert client.get("/dossier").headers["Location"] == "/connexion"


def assert_error_page(response, status: int, message: str):
    body = html.unescape(response.get_data(as_text=True))
    assert response.status_code == status
    assert message in body
    assert '<html lang="fr">' in body
    assert "Traceback" not in body
    assert response.headers.get("Cache-Control") == "no-store"
    assert "default-src 'self'" in response.headers.get("Content-Security-Policy", "")


def test_error_page_404(client, world):
    assert_error_page(client.get("/nulle-part"), 404, "Cette page n'existe pas.")


def test_error_page_403(client, world, app, monkeypatch):
    log_in(client, world.student.number)
    monkeypatch.setitem(app.view_functions, "student.registrations", lambda: abort(403))
    assert_error_page(client.get("/inscriptions"), 403, "Vous n'avez pas accès à cette page.")


def test_error_page_405(client, world):
    response = client.get("/deconnexion")
    assert_error_page(response, 405, "Cette page ne s'utilise pas de cette façon.")
    assert response.headers.get("Allow") is not None


def test_error_page_500(client, world, app, monkeypatch):
    def broken_view():
        raise RuntimeError("secret detail: SELECT * FROM student")

    log_in(client, world.student.number)
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)
    monkeypatch.setitem(app.view_functions, "student.registrations", broken_view)
    response = client.get("/inscriptions")
    assert_error_page(response, 500, "Une erreur inattendue s'est produite.")
    assert "secret detail" not in response.get_data(as_text=True)


def test_error_page_csrf(client, world):
    response = client.post("/connexion", data={"student_number": world.student.number})
    assert_error_page(response, 400, "Votre formulaire a expiré ou n'a pas pu être vérifié.")


def test_error_page_other_status(client, world, app, monkeypatch):
    log_in(client, world.student.number)
    monkeypatch.setitem(app.view_functions, "student.registrations", lambda: abort(409))
    assert_error_page(client.get("/inscriptions"), 409, "Votre demande n'a pas pu être traitée (erreur 409).")


def post_login(client, number: str, address: str = "127.0.0.1"):
    token = csrf_token(client)
    return client.post(
        "/connexion", data={"csrf_token": token, "student_number": number}, environ_base={"REMOTE_ADDR": address},
    )


def test_login_limit_per_address(client, world):
    for attempt in range(10):
        assert post_login(client, f"0000{attempt}").status_code == 200, attempt
    response = post_login(client, "00010")
    assert_error_page(response, 429, "Trop de tentatives en peu de temps.")
    assert int(response.headers["Retry-After"]) > 0


def test_login_limit_per_name(client, world):
    for attempt in range(10):
        assert post_login(client, "99999999", address=f"10.0.0.{attempt}").status_code == 200, attempt
    assert post_login(client, "99999999", address="10.0.0.99").status_code == 429


def test_login_page_views_not_counted(client, world):
    for _attempt in range(15):
        assert client.get("/connexion").status_code == 200
    assert post_login(client, "99999999").status_code == 200


def test_staff_login_limit(client, world):
    make_staff("gestion1")
    db.session.commit()
    statuses = []
    for _attempt in range(11):
        token = csrf_token(client, "/gestion/connexion")
        response = client.post("/gestion/connexion", data={"csrf_token": token, "login": "gestion1", "password": "faux"})
        statuses.append(response.status_code)
    assert statuses == [401] * 10 + [429]


def test_cas_callback_limit(client, world, app):
    statuses = [client.get("/connexion/cas?ticket=ST-invente").status_code for _attempt in range(11)]
    assert statuses[-1] == 429
    assert 429 not in statuses[:10]


def test_every_login_route_limited(app):
    login_endpoints = {rule.endpoint for rule in app.url_map.iter_rules() if "login" in rule.endpoint}
    assert login_endpoints, "no login route found"
    assert login_endpoints <= limited_endpoints()


def test_seat_limit_per_student(client, world):
    collection = make_collection(world.campaign, world.elps["UEA"], "TDA", [("TD1", 50, None), ("TD2", 50, None)])
    db.session.commit()
    groups = {group.code: group.id for group in collection.groups}
    log_in(client, world.student.number)
    post_form(client, f"/inscriptions/{world.ia.id}/selection", elements_form(complete_choice(world)), htmx=True)
    token = csrf_token(client, "/inscriptions")
    headers = {"HX-Request": "true", "X-CSRFToken": token}
    path = f"/inscriptions/{world.ia.id}/groupes/{collection.id}"

    statuses = []
    for attempt in range(31):
        group_id = groups["TD1"] if attempt % 2 == 0 else groups["TD2"]
        statuses.append(client.post(path, data={"group": group_id}, headers=headers).status_code)
    assert statuses == [200] * 30 + [429]
    # The waitlist route shares the same allowance.
    assert client.post(path + "/attente", data={"group": groups["TD1"]}, headers=headers).status_code == 429
    # The 30th request moved the student to TD2; the refused 31st, to TD1, changed nothing.
    membership = db.session.scalar(select(GroupMembership).where(GroupMembership.student_id == world.student.id))
    assert membership.group_id == groups["TD2"]


def test_limit_storage_is_redis(app):
    assert isinstance(app.extensions["kiosk_limiter"].limiter.storage, RedisStorage)


def test_limit_shared_by_two_apps(make_app, world):
    settings = {"KIOSK_RATELIMIT_KEY_PREFIX": f"kiosk-test-shared-{uuid.uuid4().hex[:10]}",
                "KIOSK_LOGIN_RATE_LIMIT_PER_ADDRESS": "2/minute"}
    first_host = make_app(**settings).test_client()
    second_host = make_app(**settings).test_client()
    assert post_login(first_host, "99999991").status_code == 200
    assert post_login(first_host, "99999992").status_code == 200
    assert post_login(second_host, "99999993").status_code == 429


def personal_values(student) -> list[str]:
    return [
        student.email, student.first_name, student.last_name, student.full_name, student.phone,
        student.birth_date.isoformat(), student.birth_date.strftime("%d/%m/%Y"), "17 mai 2004",
    ]


def test_logs_without_personal_data(client, world, caplog):
    collection = make_collection(world.campaign, world.elps["UEA"], "TDA", [("TD1", 50, None)])
    db.session.commit()
    caplog.set_level(logging.DEBUG)
    old_values = personal_values(world.student)

    # The whole path: login, contact change, ticks, group, validation, contract, PDF, mail, logout.
    log_in(client, world.student.number)
    response = post_form(client, "/dossier", {
        "email": "zoe.nouvelle@example.org", "phone": "07 11 22 33 44", "address_line": "3 rue Neuve",
        "postal_code": "69001", "city": "Lyon", "country": "France",
    }, token_page="/dossier")
    assert response.status_code == 302
    post_form(client, f"/inscriptions/{world.ia.id}/selection", elements_form(complete_choice(world)), htmx=True)
    group_id = collection.groups[0].id
    post_form(client, f"/inscriptions/{world.ia.id}/groupes/{collection.id}", {"group": group_id}, htmx=True)
    contract_path = validate_complete(client, world)
    assert client.get(contract_path).status_code == 200
    assert client.get(contract_path + ".pdf").status_code == 200
    post_form(client, contract_path + "/envoi", {}, token_page=contract_path)
    client.post("/connexion", data={"student_number": world.student.number})  # a CSRF failure
    post_form(client, "/deconnexion", {}, token_page="/dossier")
    for attempt in range(11):  # a rate-limit breach, keyed by the login name
        post_login(client, world.student.number)

    db.session.refresh(world.student)
    messages = [record.getMessage() for record in caplog.records]
    assert messages, "the path wrote no log line"
    for value in old_values + personal_values(world.student):
        leaks = [message for message in messages if value.casefold() in message.casefold()]
        assert leaks == [], f"{value!r} in the log"


def record_csp_violations(page) -> list[str]:
    """Collect the CSP violations Chromium reports, from the console and from the DOM event."""
    violations = []
    page.add_init_script(
        """document.addEventListener("securitypolicyviolation", (event) => {
            console.error("CSP violation: " + event.violatedDirective + " " + event.blockedURI);
        });"""
    )
    page.on("console", lambda message: violations.append(message.text)
            if "Content Security Policy" in message.text or "CSP violation" in message.text else None)
    return violations


def test_path_under_csp_in_browser(world, browser_page):
    page = browser_page
    collection = make_collection(world.campaign, world.elps["UEA"], "TDA", [("TD1", 15, None)])
    db.session.commit()
    violations = record_csp_violations(page)
    # The print dialog would block a headless browser: record the call instead.
    page.add_init_script("window.print = () => { window.kioskPrinted = true; };")
    requested_urls = []
    page.on("request", lambda request: requested_urls.append(request.url))

    browser_log_in(page, world.student.number)
    expect(page.locator("#idle-countdown")).to_be_visible()
    page.get_by_role("button", name="Enregistrer et continuer").click()
    expect(page).to_have_url(re.compile(r"/inscriptions$"))
    page.wait_for_load_state("load")
    open_elements(page)
    for list_code, elp_code, parent_code in [
        ("CHOIX2", "UEA", "S1"), ("CHOIX2", "UEB", "S1"), ("SUBA", "ECA1", "UEA"),
        ("AUMOINS2", "UEF", "S1"), ("AUMOINS2", "UEG", "S1"), ("BLOCX", "UEL", "BLOC1"),
    ]:
        toggle(page, element_box(page, world, list_code, elp_code, parent_code))
    group_button = page.locator(f"#choose-{collection.groups[0].id}")
    swap_after(page, group_button.click)
    expect(page.locator("#ip-groups")).to_contain_text("Vous êtes inscrit(e) dans le groupe TD1")

    page.get_by_role("button", name="Valider mon inscription pédagogique").click()
    expect(page).to_have_url(re.compile(r"/contrats/\d+/v1/confirmation$"))
    page.wait_for_load_state("load")
    page.get_by_role("link", name="Voir mon contrat").click()
    page.get_by_role("button", name="Imprimer").click()
    assert page.evaluate("window.kioskPrinted") is True
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Télécharger le PDF").click()
    assert download_info.value.suggested_filename.endswith(".pdf")
    page.get_by_role("button", name="Terminer et se déconnecter").click()
    expect(page).to_have_url(re.compile(r"/connexion$"))
    page.wait_for_load_state("load")

    assert violations == []
    personal = [world.student.email, world.student.last_name, world.student.number]
    assert [url for url in requested_urls if any(value in url for value in personal)] == []
