"""Default settings. An instance/config.py file or KIOSK_* environment variables override them."""

import os


class DefaultConfig:
    SECRET_KEY = None  # must come from instance/config.py or KIOSK_SECRET_KEY
    SQLALCHEMY_DATABASE_URI = None  # None means the SQLite file instance/kiosk.sqlite
    SQLALCHEMY_ENGINE_OPTIONS: dict = {}

    # Students sign in through CAS in production; the demo login lists invented students
    # and must stay off anywhere real students are.
    KIOSK_DEMO_LOGIN = False
    # Directory of the demo SMTP sink's .eml files, shown at /demo/courriels (None: instance/demo-mail).
    KIOSK_DEMO_MAIL_DIR = None

    KIOSK_UNIVERSITY_NAME = "Université de démonstration"
    KIOSK_TIMEZONE = "Europe/Paris"
    # Academic year as the year it starts in (2026 means 2026-2027); None derives it from
    # today's date, with the year changing on KIOSK_YEAR_START_MONTH.
    KIOSK_ACADEMIC_YEAR = None
    KIOSK_YEAR_START_MONTH = 9

    # Sender of the kiosk's mails and the office students are told to contact.
    KIOSK_MAIL_SENDER = ("Scolarité", "scolarite@example.invalid")
    KIOSK_CONTACT_OFFICE = "la scolarité de votre composante"
    # Seconds each SMTP socket operation (connect, each command) may wait before the mail is left
    # pending for a retry; a server that stalls at several steps can hold a send a few times this.
    KIOSK_SMTP_TIMEOUT = 5.0
    # Failed sends are retried this many times, then stay in the outbox marked as failed.
    KIOSK_MAIL_MAX_ATTEMPTS = 8

    MAIL_SERVER = "127.0.0.1"
    MAIL_PORT = 8025
    MAIL_USE_TLS = False
    MAIL_USE_SSL = False
    MAIL_USERNAME = None
    MAIL_PASSWORD = None
    MAIL_ASCII_ATTACHMENTS = False
    MAIL_SUPPRESS_SEND = False  # Flask-Mail would otherwise drop every mail under TESTING

    # Requests one worker process serves at once; the next get a 503 "réessayez" page at once.
    # None turns the guard off (see kiosk/overload.py for sizing against gunicorn's threads).
    KIOSK_MAX_IN_FLIGHT = None

    BABEL_DEFAULT_LOCALE = "fr"
    BABEL_DEFAULT_TIMEZONE = "Europe/Paris"
    LANGUAGES = ("fr", "en")

    WTF_CSRF_HEADERS = ["X-CSRFToken"]
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"


def environment_overrides() -> dict:
    """Read KIOSK_SECRET_KEY, KIOSK_DATABASE_URL and the other KIOSK_* variables."""
    overrides: dict = {}
    if "KIOSK_SECRET_KEY" in os.environ:
        overrides["SECRET_KEY"] = os.environ["KIOSK_SECRET_KEY"]
    if "KIOSK_DATABASE_URL" in os.environ:
        overrides["SQLALCHEMY_DATABASE_URI"] = os.environ["KIOSK_DATABASE_URL"]
    if "KIOSK_MAIL_PORT" in os.environ:
        overrides["MAIL_PORT"] = int(os.environ["KIOSK_MAIL_PORT"])
    if "KIOSK_MAX_IN_FLIGHT" in os.environ:
        overrides["KIOSK_MAX_IN_FLIGHT"] = int(os.environ["KIOSK_MAX_IN_FLIGHT"])
    if "KIOSK_DEMO_LOGIN" in os.environ:
        overrides["KIOSK_DEMO_LOGIN"] = os.environ["KIOSK_DEMO_LOGIN"] == "1"
    if "KIOSK_ACADEMIC_YEAR" in os.environ:
        overrides["KIOSK_ACADEMIC_YEAR"] = int(os.environ["KIOSK_ACADEMIC_YEAR"])
    if "KIOSK_SMTP_TIMEOUT" in os.environ:
        overrides["KIOSK_SMTP_TIMEOUT"] = float(os.environ["KIOSK_SMTP_TIMEOUT"])
    return overrides
