"""Fixtures: one app per test session on SQLite or PostgreSQL, clean tables per test, personas.

Set KIOSK_TEST_DATABASE_URL to a PostgreSQL URL to run the same tests there; each run works in a
schema of its own, dropped at the end.
"""

import contextvars
import os
import uuid
from datetime import datetime

import pytest
from flask import has_app_context
from flask.testing import FlaskClient
from flask_migrate import upgrade
from sqlalchemy import create_engine, text

from kiosk import create_app
from kiosk.extensions import db
from kiosk.services import clock as clock_module

from . import factories

TEST_NOW = datetime(2026, 12, 4, 10, 0)  # naive UTC: 11:00 in Paris


class KioskClient(FlaskClient):
    """A test client whose requests run as in production, each with its own app context.

    Without this, a request made while the test holds an app context reuses it, so `g` and the
    database session leak from one request into the next.
    """

    def open(self, *args, **kwargs):
        response = contextvars.Context().run(super().open, *args, **kwargs)
        if has_app_context():
            db.session.expire_all()  # the test's own session must see what the request committed
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
