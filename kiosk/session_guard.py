"""Idle timeout for shared terminals, enforced by the server and shown by static/js/kiosk.js.

The signed session cookie stores when the user logged in and when they were last active, as
Unix seconds. Each request made by the user refreshes the activity time. Two kinds of request
do not, or a forgotten page would keep its session open forever: those that static/js/kiosk.js
marks with BACKGROUND_HEADER (htmx polling, such as the seat counts every 20 s) and the
countdown's status check.

A request that comes after KIOSK_IDLE_TIMEOUT seconds without activity, or after
KIOSK_SESSION_MAX_LIFETIME seconds since login, ends the session and goes to the login page.
For htmx that is an `HX-Redirect` header rather than a login page drawn inside a fragment.

NOTE: the session lives in the cookie, so the server cannot revoke it. A copy of the cookie
taken before logout stays valid while it is used, up to KIOSK_SESSION_MAX_LIFETIME after login.
Ending it at logout needs server-side sessions (a session id looked up in Redis or the database).
"""

import logging
import time
from urllib.parse import urlsplit

from flask import Blueprint, Flask, current_app, flash, g, redirect, request, session, url_for
from flask_babel import gettext as _

from .security import LOGOUT_ENDPOINTS
from .web import is_htmx

logger = logging.getLogger(__name__)

LOGGED_IN_AT_KEY = "logged_in_at"
LAST_ACTIVITY_KEY = "last_activity_at"
BACKGROUND_HEADER = "X-Kiosk-Background"
# Header that lets the logout response ask the browser to drop the site's storage.
CLEAR_SITE_DATA = '"storage"'

session_blueprint = Blueprint("kiosk_session", __name__, url_prefix="/session")

# Requests that neither count as activity nor end an expired session.
PASSIVE_ENDPOINTS = frozenset({"static", "kiosk_session.status"})


def init_app(app: Flask) -> None:
    # The expiry check runs before every other before_request hook, CSRFProtect's included: an
    # expired session goes to the login page rather than failing the CSRF check of a stale form.
    app.before_request_funcs.setdefault(None, []).insert(0, end_expired_session)
    app.after_request(record_activity)
    app.after_request(redirect_htmx_to_login)
    app.register_blueprint(session_blueprint)


def now_seconds() -> int:
    """Return the Unix time. Tests replace this function to age a session.

    It is apart from kiosk.services.clock, whose tests move by hours to open and close campaigns.
    """
    return int(time.time())


def is_logged_in() -> bool:
    return "student_id" in session or "staff_id" in session


def remaining_seconds(now: int) -> int:
    """Return the seconds left before the session ends, 0 for an ended or anonymous session."""
    if not is_logged_in():
        return 0
    last_activity = session.get(LAST_ACTIVITY_KEY)
    logged_in_at = session.get(LOGGED_IN_AT_KEY)
    if last_activity is None or logged_in_at is None:
        return 0
    idle_left = last_activity + current_app.config["KIOSK_IDLE_TIMEOUT"] - now
    lifetime_left = logged_in_at + current_app.config["KIOSK_SESSION_MAX_LIFETIME"] - now
    return max(0, min(idle_left, lifetime_left))


def is_background_request() -> bool:
    return request.endpoint in PASSIVE_ENDPOINTS or request.headers.get(BACKGROUND_HEADER) == "true"


def end_expired_session():
    """End the session if its time is up, and send the browser to the login page."""
    if request.endpoint in PASSIVE_ENDPOINTS or not is_logged_in():
        return None
    if remaining_seconds(now_seconds()) > 0:
        return None
    login_url = login_url_after_expiry()
    logger.info("Session of %s ended by the idle timeout or the maximum lifetime", session_owner())
    session.clear()
    g.session_ended = True
    flash(_("Votre session a expiré faute d'activité. Reconnectez-vous pour continuer."))
    return redirect_to(login_url)


def session_owner() -> str:
    """Name the session's user by internal id, for the log: never a name or a student number."""
    if "staff_id" in session:
        return f"staff {session['staff_id']}"
    return f"student {session.get('student_id')}"


def login_url_after_expiry() -> str:
    """Return where an ended session goes: the login page, through the CAS logout after a CAS login."""
    login_endpoint = "admin.login" if "staff_id" in session else "student.login"
    if session.get("login_method") == "cas":
        # On a shared terminal the ENT session must end too, or the next person to press
        # "Se connecter" would be signed in as this user without a password.
        from . import cas

        return cas.logout_url(url_for(login_endpoint, _external=True))
    return url_for(login_endpoint)


def redirect_to(url: str):
    """Redirect the browser; an htmx request gets 401 with HX-Redirect, which htmx follows as a page load."""
    if is_htmx():
        return "", 401, {"HX-Redirect": url}
    return redirect(url)


def record_activity(response):
    """Stamp the login and activity times on the responses to a logged-in user's own requests."""
    if is_logged_in():
        now = now_seconds()
        session.setdefault(LOGGED_IN_AT_KEY, now)
        if not is_background_request() or LAST_ACTIVITY_KEY not in session:
            session[LAST_ACTIVITY_KEY] = now
    elif request.endpoint in LOGOUT_ENDPOINTS or g.get("session_ended"):
        response.headers["Clear-Site-Data"] = CLEAR_SITE_DATA
    return response


def redirect_htmx_to_login(response):
    """Turn a redirect to a login page, sent in response to htmx, into 401 with HX-Redirect.

    The route decorators redirect anonymous users to the login page, and htmx would otherwise
    follow that redirect inside the request and draw the login page in place of a fragment.
    """
    if not is_htmx() or response.status_code not in (301, 302, 303, 307, 308):
        return response
    location = response.headers.get("Location", "")
    login_paths = {url_for("student.login"), url_for("admin.login")}
    if urlsplit(location).path not in login_paths:
        return response
    response.status_code = 401
    response.headers["HX-Redirect"] = location
    del response.headers["Location"]
    response.set_data(b"")
    return response


@session_blueprint.get("/etat")
def status():
    """Return the seconds left in the session for the countdown, without counting as activity."""
    return {"remaining_seconds": remaining_seconds(now_seconds())}


@session_blueprint.post("/prolonger")
def extend():
    """Count as activity: the countdown's "Rester connecté" button posts here."""
    if not is_logged_in():
        return redirect_to(url_for("student.login"))
    return "", 204
