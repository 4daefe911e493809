"""CAS single sign-on against a real CAS 3.0 server (django-cas-server) on loopback.

A requests session plays the browser: it follows the kiosk's redirect to CAS, posts the CAS
login form, and follows the redirect back to the kiosk (the live server) with the ticket. The
kiosk then validates the ticket with the CAS server over HTTP, as in production.
"""

import html
import json
import os
import socket
import subprocess
import sys
import threading
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from kiosk import cas
from kiosk.extensions import db

from .conftest import GUNICORN_PATH, free_loopback_port
from .factories import make_staff

CAS_PROJECT = Path(__file__).resolve().parent / "cas_server"
CAS_START_TIMEOUT = 20  # seconds
CAS_PASSWORD = "mot-de-passe-ent"
CAS_TIMEOUT = 1.0  # seconds, the kiosk's KIOSK_CAS_TIMEOUT in these tests
CAS_USERS = {
    "zoe.lefevre": {"supannEtuId": ["22600001"], "eduPersonAffiliation": ["student", "member"]},
    "agnes.martin": {"eduPersonAffiliation": ["staff", "member"]},
    "bruno.petit": {"eduPersonAffiliation": ["employee", "member"]},
    "yann.nouveau": {"supannEtuId": ["22699999"], "eduPersonAffiliation": ["student", "member"]},
}


def prepare_cas_database(environment: dict) -> None:
    document = {
        "service_pattern": r"^http://127\.0\.0\.1:[0-9]+/.*$",
        "released_attributes": ["supannEtuId", "eduPersonAffiliation"],
        "users": [
            {"username": name, "password": CAS_PASSWORD, "attributes": attributes}
            for name, attributes in CAS_USERS.items()
        ],
    }
    result = subprocess.run(
        [sys.executable, str(CAS_PROJECT / "prepare.py")], input=json.dumps(document), text=True,
        env=environment, capture_output=True, timeout=60,
    )
    if result.returncode != 0:
        pytest.fail(f"the CAS server's database could not be prepared:\n{result.stdout}{result.stderr}")


def wait_for_cas(process: subprocess.Popen, base_url: str, log_path: Path) -> None:
    """Poll the CAS login page until it returns 200, and fail with the server log if it never does."""
    deadline = time.monotonic() + CAS_START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the CAS server exited with code {process.returncode}:\n{log_path.read_text()}")
        try:
            if requests.get(f"{base_url}login", timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    pytest.fail(f"the CAS server did not serve its login page within {CAS_START_TIMEOUT} s:\n{log_path.read_text()}")


@pytest.fixture(scope="module")
def cas_server(tmp_path_factory):
    """Run django-cas-server under gunicorn on a loopback port and yield its base URL.

    The server keeps its SQLite database in a temporary directory. Anything that stops it from
    starting fails the tests instead of skipping them.
    """
    if not GUNICORN_PATH.exists():
        pytest.fail(f"gunicorn not found at {GUNICORN_PATH}: install requirements-test.txt")
    directory = tmp_path_factory.mktemp("cas")
    environment = {**os.environ, "CAS_TEST_DATABASE": str(directory / "cas.sqlite")}
    prepare_cas_database(environment)

    port = free_loopback_port()
    base_url = f"http://127.0.0.1:{port}/cas/"
    log_path = directory / "server.log"
    command = [
        str(GUNICORN_PATH), "--bind", f"127.0.0.1:{port}", "--chdir", str(CAS_PROJECT),
        "--workers", "1", "--threads", "4", "--no-control-socket", "cas_project.wsgi:application",
    ]
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(command, env=environment, stdout=log_file, stderr=subprocess.STDOUT)
    try:
        wait_for_cas(process, base_url, log_path)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def cas_on(app, cas_server, monkeypatch):
    """Point the session app at the test CAS server, with the demo login off as in production."""
    monkeypatch.setitem(app.config, "KIOSK_CAS_SERVER_URL", cas_server)
    monkeypatch.setitem(app.config, "KIOSK_DEMO_LOGIN", False)
    monkeypatch.setitem(app.config, "KIOSK_CAS_TIMEOUT", CAS_TIMEOUT)
    return cas_server


@pytest.fixture
def http():
    with requests.Session() as session:
        yield session


class HiddenFields(HTMLParser):
    """Collect the hidden inputs of a page: the CAS form's lt, CSRF token and service."""

    def __init__(self):
        super().__init__()
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "input" and attributes.get("type") == "hidden" and attributes.get("name"):
            self.fields[attributes["name"]] = attributes.get("value") or ""


def hidden_fields(page: str) -> dict[str, str]:
    parser = HiddenFields()
    parser.feed(page)
    return parser.fields


def ticket_url(http: requests.Session, start_url: str, username: str) -> str:
    """Post the CAS login form reached from start_url and return the kiosk URL that carries the ticket."""
    login_page = http.get(start_url)
    assert "/cas/login" in login_page.url, login_page.url
    form = hidden_fields(login_page.text) | {"username": username, "password": CAS_PASSWORD}
    response = http.post(login_page.url, data=form, allow_redirects=False)
    assert response.status_code == 302, response.text
    return response.headers["Location"]


def log_in_through_cas(http: requests.Session, start_url: str, username: str) -> requests.Response:
    return http.get(ticket_url(http, start_url, username))


def page_text(response) -> str:
    return html.unescape(response.text if isinstance(response, requests.Response) else response.get_data(as_text=True))


def test_student_sees_profile(cas_on, live_server, world, http):
    page = log_in_through_cas(http, f"{live_server}/connexion", "zoe.lefevre")
    assert page.status_code == 200
    assert page.url == f"{live_server}/dossier"
    assert "Lefèvre-Ngô" in page_text(page)


def test_staff_reaches_console(cas_on, live_server, world, http):
    make_staff("agnes.martin", [world.cip])
    db.session.commit()
    page = log_in_through_cas(http, f"{live_server}/gestion/connexion/cas", "agnes.martin")
    assert page.status_code == 200
    assert page.url == f"{live_server}/gestion/"
    assert "L01" in page_text(page)


def test_staff_returns_to_requested_page(cas_on, live_server, world, http):
    make_staff("agnes.martin", [world.cip])
    db.session.commit()
    page = log_in_through_cas(http, f"{live_server}/gestion/connexion/cas?next=/gestion/", "agnes.martin")
    assert page.url == f"{live_server}/gestion/"


def test_staff_without_account_denied(cas_on, live_server, world, http):
    page = log_in_through_cas(http, f"{live_server}/gestion/connexion/cas", "bruno.petit")
    assert page.status_code == 403
    assert "Demandez à un administrateur" in page_text(page)
    assert "bruno.petit" in page_text(page)
    assert http.get(f"{live_server}/gestion/", allow_redirects=False).status_code == 302


def test_student_denied_console(cas_on, live_server, world, http):
    page = log_in_through_cas(http, f"{live_server}/gestion/connexion/cas", "zoe.lefevre")
    assert page.status_code == 403
    assert "réservée au personnel" in page_text(page)


def test_unknown_student_number(cas_on, live_server, world, http):
    page = log_in_through_cas(http, f"{live_server}/connexion", "yann.nouveau")
    assert page.status_code == 403
    assert "22699999" in page_text(page)
    assert "la scolarité de votre composante" in page_text(page)
    assert http.get(f"{live_server}/dossier", allow_redirects=False).status_code == 302


def test_forged_ticket_rejected(cas_on, live_server, world, http):
    page = http.get(f"{live_server}/connexion/cas", params={"ticket": "ST-1-forged"})
    assert page.status_code == 403
    assert "n'a pas pu être vérifiée" in page_text(page)


def test_ticket_drops_previous_session(cas_on, live_server, world, http):
    log_in_through_cas(http, f"{live_server}/connexion", "zoe.lefevre")
    http.get(f"{live_server}/connexion/cas", params={"ticket": "ST-1-forged"})
    assert http.get(f"{live_server}/dossier", allow_redirects=False).status_code == 302


def test_replayed_ticket_rejected(cas_on, live_server, world, http):
    url = ticket_url(http, f"{live_server}/connexion", "zoe.lefevre")
    assert http.get(url).url == f"{live_server}/dossier"
    with requests.Session() as intruder:
        replay = intruder.get(url)
    assert replay.status_code == 403
    assert intruder.get(f"{live_server}/dossier", allow_redirects=False).status_code == 302


def test_logout_ends_kiosk_and_cas_sessions(cas_on, live_server, world, http):
    profile = log_in_through_cas(http, f"{live_server}/connexion", "zoe.lefevre")
    token = hidden_fields(profile.text)["csrf_token"]
    response = http.post(f"{live_server}/deconnexion", data={"csrf_token": token}, allow_redirects=False)
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == f"{cas_on}logout"
    assert parse_qs(location.query)["service"] == [f"{live_server}/connexion"]
    assert http.get(f"{live_server}/dossier", allow_redirects=False).status_code == 302

    # Back from the CAS logout, the kiosk sends the browser to a CAS login form, not to a profile.
    after_logout = http.get(response.headers["Location"])
    assert after_logout.url.startswith(f"{cas_on}login")
    assert 'name="password"' in after_logout.text


@pytest.fixture
def closed_port():
    """A loopback port that is bound but not listening, so every connection is refused."""
    with socket.socket() as bound:
        bound.bind(("127.0.0.1", 0))
        yield bound.getsockname()[1]


@pytest.fixture
def silent_port():
    """A loopback port that accepts connections into its backlog and never responds.

    The socket closes itself after a few seconds, which resets the waiting connections, so a
    kiosk that ignored its timeout fails the test instead of hanging it.
    """
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen(8)
        closer = threading.Timer(CAS_TIMEOUT + 4, listening.close)
        closer.start()
        yield listening.getsockname()[1]
        closer.cancel()


def validate_against(app, client, monkeypatch, port: int):
    monkeypatch.setitem(app.config, "KIOSK_CAS_SERVER_URL", f"http://127.0.0.1:{port}/cas/")
    monkeypatch.setitem(app.config, "KIOSK_CAS_TIMEOUT", CAS_TIMEOUT)
    started = time.monotonic()
    response = client.get("/connexion/cas?ticket=ST-42-secret")
    return response, time.monotonic() - started


def test_refused_connection_shows_unavailable(app, client, monkeypatch, closed_port, caplog):
    response, elapsed = validate_against(app, client, monkeypatch, closed_port)
    assert response.status_code == 503
    assert "Service d'authentification indisponible" in page_text(response)
    assert elapsed < CAS_TIMEOUT + 1
    assert "CAS ticket validation" in caplog.text
    assert "ST-42-secret" not in caplog.text


def test_silent_server_times_out(app, client, monkeypatch, silent_port, caplog):
    response, elapsed = validate_against(app, client, monkeypatch, silent_port)
    assert response.status_code == 503
    assert "Service d'authentification indisponible" in page_text(response)
    assert CAS_TIMEOUT <= elapsed < CAS_TIMEOUT + 2
    assert "ST-42-secret" not in caplog.text


def test_staff_unavailable_page(app, client, monkeypatch, closed_port):
    monkeypatch.setitem(app.config, "KIOSK_CAS_SERVER_URL", f"http://127.0.0.1:{closed_port}/cas/")
    response = client.get("/gestion/connexion/cas?ticket=ST-42-secret")
    assert response.status_code == 503
    assert "Service d'authentification indisponible" in page_text(response)


def test_cas_off_hides_callback(client):
    assert client.get("/connexion/cas").status_code == 404


def test_login_page_redirects_to_cas(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "KIOSK_CAS_SERVER_URL", "https://cas.example.org/cas")
    monkeypatch.setitem(app.config, "KIOSK_DEMO_LOGIN", False)
    assert client.get("/connexion").headers["Location"] == "/connexion/cas"
    location = urlsplit(client.get("/connexion/cas").headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == "https://cas.example.org/cas/login"
    assert parse_qs(location.query)["service"] == ["http://localhost/connexion/cas"]


def test_student_number_from_attribute(app_context):
    user = cas.CasUser(name="zlefevre", attributes={"supannEtuId": ["22600001"]})
    assert cas.student_number(user) == "22600001"


def test_student_number_defaults_to_user_name(app_context):
    user = cas.CasUser(name="22600001", attributes={"eduPersonAffiliation": ["student"]})
    assert cas.student_number(user) == "22600001"


def test_staff_affiliation_needs_granted_value(app_context):
    staff = cas.CasUser(name="agnes", attributes={"eduPersonAffiliation": ["member", "employee"]})
    student = cas.CasUser(name="zoe", attributes={"eduPersonAffiliation": ["member", "student"]})
    assert cas.has_staff_affiliation(staff)
    assert not cas.has_staff_affiliation(student)


def test_single_values_become_lists():
    assert cas.as_value_lists({"supannEtuId": "22600001", "mail": None}) == {"supannEtuId": ["22600001"], "mail": []}
