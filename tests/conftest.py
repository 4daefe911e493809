"""Fixtures: one app per test session on SQLite or PostgreSQL, clean tables per test, personas.

Set KIOSK_TEST_DATABASE_URL to a PostgreSQL URL to run the same tests there; each run works in a
schema of its own, dropped at the end.
"""

import contextvars
import email
import email.policy
import http.client
import itertools
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
import redis
from aiosmtpd.controller import Controller
from flask import has_app_context
from flask.testing import FlaskClient
from flask_migrate import upgrade
from sqlalchemy import create_engine, make_url, text
from werkzeug.serving import make_server

from kiosk import create_app
from kiosk.extensions import db
from kiosk.i18n import compile_catalogs
from kiosk.services import clock as clock_module

from . import factories

TEST_NOW = datetime(2026, 12, 4, 10, 0)  # naive UTC: 11:00 in Paris
# Each test run counts rate limits in Redis under keys of its own, deleted after every test.
RATE_LIMIT_KEY_PREFIX = f"kiosk-test-{uuid.uuid4().hex[:10]}"

CHROMIUM_PATH = os.environ.get("KIOSK_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


class KioskClient(FlaskClient):
    """A test client whose requests run as in production, each with its own app context.

    Without this, a request made while the test holds an app context reuses it, so `g` and the
    database session leak from one request into the next. The test's own transaction is
    committed around each request: the request sees the test's setup, and the test then reads
    what the request committed instead of an older snapshot.
    """

    def open(self, *args, **kwargs):
        if has_app_context():
            db.session.commit()
        response = contextvars.Context().run(super().open, *args, **kwargs)
        if has_app_context():
            db.session.commit()
            db.session.expire_all()
        return response


def database_settings(tmp_path_factory) -> tuple[dict, callable]:
    """Return the SQLAlchemy settings for this run and a function that drops what they created."""
    url = os.environ.get("KIOSK_TEST_DATABASE_URL")
    if not url:
        path = tmp_path_factory.mktemp("db") / "kiosk-test.sqlite"
        return {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}"}, lambda: None
    schema = f"kiosk_test_{uuid.uuid4().hex[:10]}"
    admin_engine = create_engine(url)
    with admin_engine.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))

    def drop_schema():
        with admin_engine.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin_engine.dispose()

    settings = {
        "SQLALCHEMY_DATABASE_URI": url,
        "SQLALCHEMY_ENGINE_OPTIONS": {"connect_args": {"options": f"-csearch_path={schema}"}},
    }
    return settings, drop_schema


@pytest.fixture(scope="session")
def app(tmp_path_factory):
    compile_catalogs()  # the French plural rule lives in the compiled catalog
    settings, cleanup = database_settings(tmp_path_factory)
    app = create_app({
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "KIOSK_DEMO_LOGIN": True,
        "KIOSK_ACADEMIC_YEAR": 2026,
        "KIOSK_UNIVERSITY_NAME": "Université de test",
        "KIOSK_MAIL_SENDER": ("Scolarité UFR Lettres", "scolarite-lettres@example.org"),
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": 1,  # nothing listens here unless a test starts an SMTP server
        "KIOSK_SMTP_TIMEOUT": 3.0,
        "KIOSK_RATELIMIT_KEY_PREFIX": RATE_LIMIT_KEY_PREFIX,
        **settings,
    })
    app.test_client_class = KioskClient
    with app.app_context():
        upgrade(directory=str(factories.PROJECT_ROOT / "migrations"))
    yield app
    with app.app_context():
        db.engine.dispose()
    cleanup()


@pytest.fixture
def app_context(app):
    with app.app_context():
        yield
        db.session.rollback()
        db.session.remove()
        clean_tables()
        reset_rate_limits(app)


def reset_rate_limits(app) -> None:
    """Delete this run's rate-limit counters, so that every test starts with its whole allowance."""
    uri = app.config["KIOSK_RATELIMIT_STORAGE_URI"]
    if not uri.startswith("redis"):
        app.extensions["kiosk_limiter"].reset()
        return
    client = redis.Redis.from_url(uri)
    keys = list(client.scan_iter(match=f"*{RATE_LIMIT_KEY_PREFIX}*"))
    if keys:
        client.delete(*keys)
    client.close()


def clean_tables():
    with db.engine.begin() as connection:
        for table in reversed(db.metadata.sorted_tables):
            connection.execute(table.delete())


@pytest.fixture
def clock(monkeypatch):
    """A settable clock: tests assign clock.now (naive UTC) to move time."""

    class Clock:
        now = TEST_NOW

    fake = Clock()
    monkeypatch.setattr(clock_module, "utcnow", lambda: fake.now)
    return fake


@pytest.fixture
def client(app, app_context, clock):
    """A test client with CSRF checks on, as in production."""
    return app.test_client()


@pytest.fixture
def world(app_context, clock):
    """A CIP with an open campaign and a small VET; see factories.build_world."""
    world = factories.build_world(clock.now)
    db.session.commit()
    return world


@pytest.fixture(scope="session")
def live_server(app):
    """Serve the session app over HTTP on a loopback port chosen by the OS, and yield the base URL.

    Requests run in server threads, each with its own app context and database session. The
    `clock` fixture patches a module function, so the server threads use the test's time too.
    """
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium driven by Playwright, shared by the tests of one module.

    It launches the system Chromium (KIOSK_TEST_CHROMIUM, /usr/bin/chromium by default), not a
    browser fetched by `playwright install`. A missing browser or Playwright fails the tests
    instead of skipping them.
    """
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM_PATH):
        pytest.fail(f"Chromium not found at {CHROMIUM_PATH}: install it or set KIOSK_TEST_CHROMIUM to its path")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM_PATH, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def browser_page(app_context, live_server, browser):
    """A page in a fresh browser context with a phone's viewport, addressed relative to the live server.

    It requests app_context so that the browser closes before the tables are cleaned.
    """
    context = browser.new_context(
        base_url=live_server, viewport={"width": 390, "height": 844}, locale="fr-FR", accept_downloads=True,
    )
    context.set_default_timeout(5000)
    page = context.new_page()
    yield page
    context.close()


GUNICORN_PATH = Path(sys.executable).parent / "gunicorn"
GUNICORN_START_TIMEOUT = 20  # seconds
GUNICORN_STOP_TIMEOUT = 10  # seconds
GUNICORN_THREADS = 8  # per worker


@dataclass
class GunicornServer:
    """A gunicorn process serving the kiosk on the test session's database."""

    base_url: str
    log_path: Path

    def log_size(self) -> int:
        return self.log_path.stat().st_size

    def read_log(self, start: int = 0) -> str:
        """Return the server's output from byte offset start (a log_size() taken earlier)."""
        with open(self.log_path, "rb") as log_file:
            log_file.seek(start)
            return log_file.read().decode("utf-8", errors="replace")


def database_url_for_subprocess(app, query: dict | None = None) -> str:
    """Return the session app's database URL, with the PostgreSQL search_path moved into the URL.

    The session app passes the test schema through connect_args, which a process configured
    only by KIOSK_DATABASE_URL cannot receive. query adds more parameters to the URL.
    """
    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    options = app.config["SQLALCHEMY_ENGINE_OPTIONS"].get("connect_args", {}).get("options")
    if options:
        url = url.update_query_dict({"options": options})
    if query:
        url = url.update_query_dict(query)
    return url.render_as_string(hide_password=False)


def free_loopback_port() -> int:
    # NOTE: another process could take the port before gunicorn binds it; gunicorn then exits
    # and wait_until_serving fails with its log.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_serving(process: subprocess.Popen, port: int, log_path: Path) -> None:
    """Poll GET /connexion until the server returns 200; fail with the server log otherwise."""
    deadline = time.monotonic() + GUNICORN_START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"gunicorn exited with code {process.returncode}:\n{log_path.read_text()}")
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
        try:
            connection.request("GET", "/connexion")
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass
        finally:
            connection.close()
        time.sleep(0.1)
    pytest.fail(f"gunicorn did not serve GET /connexion within {GUNICORN_START_TIMEOUT} s:\n{log_path.read_text()}")


@contextmanager
def closed_loopback_port() -> Iterator[int]:
    """Yield a loopback port that is bound but never listens, so every connection to it is refused."""
    with socket.socket() as closed_socket:
        closed_socket.bind(("127.0.0.1", 0))
        yield closed_socket.getsockname()[1]


def kiosk_environment(app, mail_port: int, database_query: dict | None = None, **settings: str) -> dict[str, str]:
    """Return the environment of a kiosk process (gunicorn or the flask CLI) on the session's database.

    The process gets demo login on, academic year 2026, the same secret key as every other
    process started here, and its mails go to mail_port. database_query adds parameters to the
    database URL (such as application_name on PostgreSQL); settings adds or replaces KIOSK_*
    variables.
    """
    # The developer's own KIOSK_* and GUNICORN_CMD_ARGS variables must not reach the server.
    # NOTE: create_app() still reads instance/config.py, and no variable overrides its MAIL_SERVER.
    inherited = {
        name: value for name, value in os.environ.items()
        if not name.startswith("KIOSK_") and name != "GUNICORN_CMD_ARGS"
    }
    return {
        **inherited,
        "KIOSK_SECRET_KEY": "gunicorn-test-secret",
        "KIOSK_DEMO_LOGIN": "1",
        "KIOSK_ACADEMIC_YEAR": "2026",
        "KIOSK_DATABASE_URL": database_url_for_subprocess(app, database_query),
        "KIOSK_MAIL_PORT": str(mail_port),
        "KIOSK_SMTP_TIMEOUT": "1",
        # Every client of these servers logs in from 127.0.0.1.
        "KIOSK_RATELIMIT_KEY_PREFIX": f"{RATE_LIMIT_KEY_PREFIX}-server",
        "KIOSK_LOGIN_RATE_LIMIT_PER_ADDRESS": "1000/minute",
        **settings,
    }


@contextmanager
def run_gunicorn(
    app, log_path: Path, mail_port: int, workers: int = 2, threads: int = GUNICORN_THREADS,
    max_in_flight: int = GUNICORN_THREADS, database_query: dict | None = None,
) -> Iterator[GunicornServer]:
    """Run the kiosk in a gunicorn process with gthread workers on a free loopback port, then stop it.

    The server has its own clock (the real one); see kiosk_environment for its settings. With
    max_in_flight equal to threads, the overload guard turns no request away, because a worker
    never runs more requests than its threads.
    """
    if not GUNICORN_PATH.exists():
        pytest.fail(f"gunicorn not found at {GUNICORN_PATH}: install requirements.txt in the interpreter's environment")
    port = free_loopback_port()
    environment = kiosk_environment(app, mail_port, database_query, KIOSK_MAX_IN_FLIGHT=str(max_in_flight))
    command = [
        str(GUNICORN_PATH), "--bind", f"127.0.0.1:{port}", "--chdir", str(factories.PROJECT_ROOT),
        "--workers", str(workers), "--worker-class", "gthread", "--threads", str(threads),
        "--graceful-timeout", "5", "--no-control-socket", "wsgi:app",
    ]
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(command, env=environment, stdout=log_file, stderr=subprocess.STDOUT)
        try:
            wait_until_serving(process, port, log_path)
            yield GunicornServer(base_url=f"http://127.0.0.1:{port}", log_path=log_path)
        finally:
            process.terminate()
            try:
                process.wait(timeout=GUNICORN_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture(scope="session")
def gunicorn_server(app, tmp_path_factory):
    """Run the kiosk in a real gunicorn process (2 workers of 8 threads) on the session's database.

    Its mails go to a loopback port that is bound but never listens, so every connection is
    refused and the mails stay pending.
    """
    log_path = tmp_path_factory.mktemp("gunicorn") / "server.log"
    with closed_loopback_port() as mail_port, run_gunicorn(app, log_path, mail_port) as server:
        yield server


@pytest.fixture
def start_gunicorn(app, tmp_path):
    """Return a function that starts one more gunicorn server for this test: start(**run_gunicorn options).

    Each server's mails go to a closed port unless mail_port is given; every server stops when
    the test ends.
    """
    with ExitStack() as servers:
        mail_port = servers.enter_context(closed_loopback_port())
        numbers = itertools.count(1)

        def start(**options) -> GunicornServer:
            log_path = tmp_path / f"gunicorn-{next(numbers)}.log"
            options.setdefault("mail_port", mail_port)
            return servers.enter_context(run_gunicorn(app, log_path, **options))

        yield start


@pytest.fixture
def start_flask_command(app):
    """Return a function that starts `flask --app kiosk ARGS` in a subprocess on the session's database.

    start(args, mail_port) returns the Popen, with stdout and stderr merged in a pipe. A
    process still running when the test ends is killed.
    """
    processes: list[subprocess.Popen] = []

    def start(args: list[str], mail_port: int) -> subprocess.Popen:
        process = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "kiosk", *args], cwd=factories.PROJECT_ROOT,
            env=kiosk_environment(app, mail_port), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )
        processes.append(process)
        return process

    yield start
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.fixture
def live_world(app_context):
    """The world of build_world dated by the real clock and committed, for a server process to read."""
    world = factories.build_world(clock_module.utcnow())
    db.session.commit()
    return world


class SmtpServer:
    """An aiosmtpd server on 127.0.0.1 that keeps every envelope it accepts.

    on_receipt, when set, is called with each envelope before the server replies 250.
    """

    def __init__(self):
        self.envelopes = []
        self.on_receipt: Callable | None = None
        self.port = free_loopback_port()
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        if self.on_receipt is not None:
            self.on_receipt(envelope)
        return "250 Message accepted for delivery"

    def messages(self) -> list[email.message.EmailMessage]:
        return [
            email.message_from_bytes(envelope.original_content, policy=email.policy.default)
            for envelope in self.envelopes
        ]

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()


@pytest.fixture
def smtp_server():
    """A running SMTP server; a test points MAIL_PORT at smtp_server.port when mail should arrive."""
    server = SmtpServer()
    server.start()
    yield server
    server.stop()
