"""WSGI entry point for gunicorn: `gunicorn cas_project.wsgi:application`."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cas_project.settings")
application = get_wsgi_application()
