"""WSGI entry point for gunicorn: `gunicorn wsgi:app` (settings from instance/config.py and KIOSK_*)."""

from kiosk import create_app

app = create_app()
