"""Default settings. An instance/config.py file or KIOSK_* environment variables override them."""

import os

from flask_babel import lazy_gettext


class DefaultConfig:
    SECRET_KEY = None  # must come from instance/config.py or KIOSK_SECRET_KEY
    SQLALCHEMY_DATABASE_URI = None  # None means the SQLite file instance/kiosk.sqlite
    # pool_pre_ping checks each pooled connection before a request uses it, so connections that a
    # database restart closed while idle are replaced instead of failing the next requests.
    # An instance/config.py that sets SQLALCHEMY_ENGINE_OPTIONS replaces this dict: keep the key.
    SQLALCHEMY_ENGINE_OPTIONS: dict = {"pool_pre_ping": True}

    # Students sign in through CAS in production; the demo login lists invented students
    # and must stay off anywhere real students are.
    KIOSK_DEMO_LOGIN = False

    # Base URL of the ENT's CAS 3.0 server, for students and staff, such as
    # "https://cas.univ.example/cas/", or None to turn CAS off. The kiosk must see its public
    # scheme and host (behind a reverse proxy, through werkzeug's ProxyFix), because the service
    # URL it sends to CAS is built from them and must match exactly at validation.
    KIOSK_CAS_SERVER_URL = None
    # CAS attribute carrying the student number. A user without it is looked up by CAS user name.
    KIOSK_CAS_STUDENT_NUMBER_ATTRIBUTE = "supannEtuId"
    # CAS attribute and values that make a user staff. A staff member also needs a StaffUser
    # whose login is their CAS user name, which gives their CIPs.
    KIOSK_CAS_STAFF_ATTRIBUTE = "eduPersonAffiliation"
    KIOSK_CAS_STAFF_VALUES = ("staff", "employee")
    # Seconds the ticket validation may wait to connect to the CAS server, then for each read.
    KIOSK_CAS_TIMEOUT = 5.0
    # Directory of the demo SMTP sink's .eml files, shown at /demo/courriels (None: instance/demo-mail).
    KIOSK_DEMO_MAIL_DIR = None

    KIOSK_UNIVERSITY_NAME = "Université de démonstration"
    KIOSK_TIMEZONE = "Europe/Paris"
    # Academic year as the year it starts in (2026 means 2026-2027); None derives it from
    # today's date, with the year changing on KIOSK_YEAR_START_MONTH.
    KIOSK_ACADEMIC_YEAR = None
    KIOSK_YEAR_START_MONTH = 9

    # Sender of the kiosk's mails, and the office named to students who cannot do their IP online.
    KIOSK_MAIL_SENDER = ("Scolarité", "scolarite@example.invalid")
    # The default is translated into the screen's language; a plain string set here shows as written.
    KIOSK_CONTACT_OFFICE = lazy_gettext("la scolarité de votre composante")
    # Seconds each SMTP socket operation (connect, each command) may wait before the mail is left
    # pending for a retry; a server that stalls at several steps can hold a send a few times this.
    KIOSK_SMTP_TIMEOUT = 5.0
    # Failed sends are retried this many times, then stay in the outbox marked as failed.
    KIOSK_MAIL_MAX_ATTEMPTS = 8

    # Academic years of personal data kept besides the current one: with 5 in 2026-2027, the
    # years 2021-2022 to 2026-2027 are kept. `flask --app kiosk purge-personal-data` deletes the
    # older ones (IPs, IAs, mails, audit entries) and the students with no IA in a kept year.
    KIOSK_RETENTION_YEARS = 5

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
    # Reverse proxies in front of the app whose X-Forwarded-* headers are trusted (0: none).
    # Set it to 1 behind one nginx; never more than the proxies really there.
    KIOSK_PROXY_HOPS = 0

    BABEL_DEFAULT_LOCALE = "fr"
    BABEL_DEFAULT_TIMEZONE = "Europe/Paris"
    LANGUAGES = ("fr", "en")

    WTF_CSRF_HEADERS = ["X-CSRFToken"]
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"

    # Seconds without a request from the user after which the session ends, for shared campus
    # terminals. The server enforces it; static/js/kiosk.js shows the countdown.
    KIOSK_IDLE_TIMEOUT = 600
    # Seconds after login after which the session ends whatever the activity.
    KIOSK_SESSION_MAX_LIFETIME = 12 * 3600
    # Whether browsers reach the kiosk over HTTPS: the session cookie is then Secure and named
    # __Host-session, and responses carry Strict-Transport-Security. None means on, except under
    # TESTING or with the demo login, which are served over plain HTTP.
    KIOSK_HTTPS = None

    # Storage of the rate-limit counters, shared by every app host (the limits library's URI
    # syntax). "memory://" keeps them per process, which only tests should do.
    KIOSK_RATELIMIT_STORAGE_URI = "redis://127.0.0.1:6379/0"
    # Start of every counter's key, so that several kiosks (or test runs) can share one Redis.
    KIOSK_RATELIMIT_KEY_PREFIX = "kiosk"
    # Login attempts per client address and per login name (demo and staff forms, CAS tickets).
    # Behind a reverse proxy the address is the proxy's unless ProxyFix is set up; where many
    # students share one public address (campus NAT), raise the per-address limit.
    KIOSK_LOGIN_RATE_LIMIT_PER_ADDRESS = "10/minute"
    KIOSK_LOGIN_RATE_LIMIT_PER_NAME = "10/minute"
    # Seat requests (choosing a group or joining its waitlist) per student.
    KIOSK_SEAT_RATE_LIMIT = "30/minute"


def environment_overrides() -> dict:
    """Read KIOSK_SECRET_KEY, KIOSK_DATABASE_URL and the other KIOSK_* variables."""
    overrides: dict = {}
    if "KIOSK_SECRET_KEY" in os.environ:
        overrides["SECRET_KEY"] = os.environ["KIOSK_SECRET_KEY"]
    if "KIOSK_DATABASE_URL" in os.environ:
        overrides["SQLALCHEMY_DATABASE_URI"] = os.environ["KIOSK_DATABASE_URL"]
    if "KIOSK_MAIL_PORT" in os.environ:
        overrides["MAIL_PORT"] = int(os.environ["KIOSK_MAIL_PORT"])
    if "KIOSK_PROXY_HOPS" in os.environ:
        overrides["KIOSK_PROXY_HOPS"] = int(os.environ["KIOSK_PROXY_HOPS"])
    if "KIOSK_MAX_IN_FLIGHT" in os.environ:
        overrides["KIOSK_MAX_IN_FLIGHT"] = int(os.environ["KIOSK_MAX_IN_FLIGHT"])
    if "KIOSK_DEMO_LOGIN" in os.environ:
        overrides["KIOSK_DEMO_LOGIN"] = os.environ["KIOSK_DEMO_LOGIN"] == "1"
    if "KIOSK_ACADEMIC_YEAR" in os.environ:
        overrides["KIOSK_ACADEMIC_YEAR"] = int(os.environ["KIOSK_ACADEMIC_YEAR"])
    if "KIOSK_SMTP_TIMEOUT" in os.environ:
        overrides["KIOSK_SMTP_TIMEOUT"] = float(os.environ["KIOSK_SMTP_TIMEOUT"])
    if "KIOSK_RETENTION_YEARS" in os.environ:
        overrides["KIOSK_RETENTION_YEARS"] = int(os.environ["KIOSK_RETENTION_YEARS"])
    if "KIOSK_CAS_SERVER_URL" in os.environ:
        overrides["KIOSK_CAS_SERVER_URL"] = os.environ["KIOSK_CAS_SERVER_URL"] or None
    if "KIOSK_CAS_STUDENT_NUMBER_ATTRIBUTE" in os.environ:
        overrides["KIOSK_CAS_STUDENT_NUMBER_ATTRIBUTE"] = os.environ["KIOSK_CAS_STUDENT_NUMBER_ATTRIBUTE"]
    if "KIOSK_CAS_STAFF_ATTRIBUTE" in os.environ:
        overrides["KIOSK_CAS_STAFF_ATTRIBUTE"] = os.environ["KIOSK_CAS_STAFF_ATTRIBUTE"]
    if "KIOSK_CAS_STAFF_VALUES" in os.environ:  # comma-separated, such as "staff,employee"
        values = os.environ["KIOSK_CAS_STAFF_VALUES"].split(",")
        overrides["KIOSK_CAS_STAFF_VALUES"] = tuple(value.strip() for value in values if value.strip())
    if "KIOSK_CAS_TIMEOUT" in os.environ:
        overrides["KIOSK_CAS_TIMEOUT"] = float(os.environ["KIOSK_CAS_TIMEOUT"])
    if "KIOSK_IDLE_TIMEOUT" in os.environ:
        overrides["KIOSK_IDLE_TIMEOUT"] = int(os.environ["KIOSK_IDLE_TIMEOUT"])
    if "KIOSK_HTTPS" in os.environ:
        overrides["KIOSK_HTTPS"] = os.environ["KIOSK_HTTPS"] == "1"
    for name in (
        "KIOSK_RATELIMIT_STORAGE_URI", "KIOSK_RATELIMIT_KEY_PREFIX", "KIOSK_LOGIN_RATE_LIMIT_PER_ADDRESS",
        "KIOSK_LOGIN_RATE_LIMIT_PER_NAME", "KIOSK_SEAT_RATE_LIMIT",
    ):
        if name in os.environ:
            overrides[name] = os.environ[name]
    return overrides
