"""The staff console, one module per resource; every route needs a logged-in staff member."""

from flask import Blueprint, redirect, request, url_for

from .auth import current_staff

admin_blueprint = Blueprint("admin", __name__)

PUBLIC_ENDPOINTS = {"admin.login", "admin.cas_login"}


@admin_blueprint.before_request
def require_staff():
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if current_staff() is None:
        return redirect(url_for("admin.login", next=request.path))
    return None


from . import audit, auth_routes, campaigns, cas_routes, cips, desk, followup, home, outbox, reminders, structure, transfers  # noqa: E402,F401  (routes register themselves on the blueprint)
