"""Settings of the CAS server used by tests/test_cas.py. Never run it anywhere real users are.

The test fixture sets CAS_TEST_DATABASE to the path of an SQLite file in a temporary directory.
"""

import os

SECRET_KEY = "cas-test-server-only"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "cas_server",
    "cas_project",  # the directory entries holding each test user's CAS attributes
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
ROOT_URLCONF = "cas_project.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.environ["CAS_TEST_DATABASE"]}}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
# A fast hasher, because the fixture creates users at every run and nothing here is secret.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
USE_TZ = True
STATIC_URL = "/static/"

# Passwords are checked against Django users; attributes come from their directory entries.
CAS_AUTH_CLASS = "cas_project.auth.DirectoryAuthUser"
# Both default to True, which makes the server fetch its latest version number from PyPI.
CAS_NEW_VERSION_HTML_WARNING = False
CAS_NEW_VERSION_EMAIL_WARNING = False
# The default pages load Bootstrap and jQuery from a CDN; the tests reach only loopback addresses.
CAS_COMPONENT_URLS = {
    name: "" for name in
    ("bootstrap3_css", "bootstrap3_js", "html5shiv", "respond", "bootstrap4_css", "bootstrap4_js", "jquery")
}
CAS_SHOW_POWERED = False

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"cas_server": {"handlers": ["console"], "level": "INFO"}},
}
