"""Defences at the HTTP boundary: security headers, cookie settings, the CSRF failure page, rate limits.

docs/security.md maps each of them to the OWASP ASVS requirement it meets and to its test.
"""

import hashlib
import logging
from urllib.parse import urlsplit

from flask import Flask, current_app, render_template, request, session
from flask_babel import gettext as _
from flask_limiter import Limiter
from flask_wtf.csrf import CSRFError

from .extensions import db
from .web import is_htmx

logger = logging.getLogger(__name__)

# One year, and every subdomain: the minimum that ASVS 5.0 requires at level 2.
STRICT_TRANSPORT_SECURITY = "max-age=31536000; includeSubDomains"
PERMISSIONS_POLICY = "camera=(), geolocation=(), microphone=(), payment=(), usb=()"

# Response header of a failed CSRF check on an htmx request. static/js/kiosk.js then submits the
# surrounding form normally, so that the server can return a whole page.
PAGE_EXPIRED_HEADER = "X-Kiosk-Page-Expired"

# Routes whose CSRF failure re-renders the element page with the submitted choices still ticked.
CHOICE_ENDPOINTS = frozenset({"student.save_draft", "student.validate", "student.validate_partially"})
LOGOUT_ENDPOINTS = frozenset({"student.logout", "admin.logout"})

# Login routes, limited per client address and per login name on POST.
LOGIN_FORM_ENDPOINTS = ("student.login", "admin.login")
# Single sign-on callbacks, limited per client address when they bring a ticket.
SSO_CALLBACK_ENDPOINTS = ("student.cas_login", "admin.cas_login")
# Routes that take or request a seat in a group: one shared limit per student.
SEAT_ENDPOINTS = ("student.choose_group", "student.wait_for_group")
# Form fields that carry the login name, in the demo login and the staff login forms.
LOGIN_NAME_FIELDS = ("student_number", "login")


def init_app(app: Flask) -> None:
    """Set the cookie flags, add the headers and the CSRF page, and limit the login and seat routes.

    Call it after the blueprints are registered: the rate limits wrap their view functions.
    """
    configure_cookies(app)
    app.after_request(set_security_headers)
    app.register_error_handler(CSRFError, handle_csrf_error)
    init_rate_limits(app)


def configure_cookies(app: Flask) -> None:
    is_https = app.config["KIOSK_HTTPS"]
    if is_https is None:
        is_https = not (app.testing or app.config["KIOSK_DEMO_LOGIN"])
    app.config["KIOSK_HTTPS"] = is_https
    app.config["SESSION_COOKIE_SECURE"] = is_https
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    if is_https:
        # The __Host- prefix makes browsers refuse the cookie unless it is Secure, for "/" and
        # without a Domain, so no other host of the university can set or read it.
        app.config["SESSION_COOKIE_NAME"] = "__Host-session"


def content_security_policy() -> str:
    """Build the policy: only this origin's files, no inline code, no framing, no <base> or plugins."""
    form_targets = ["'self'"]
    cas_server = current_app.config.get("KIOSK_CAS_SERVER_URL")
    if cas_server:
        # Browsers apply form-action to the redirects that follow a form submission, and the
        # logout form redirects to the CAS server's logout page.
        parts = urlsplit(cas_server)
        form_targets.append(f"{parts.scheme}://{parts.netloc}")
    directives = [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "font-src 'self'",
        "connect-src 'self'",
        "form-action " + " ".join(form_targets),
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "object-src 'none'",
    ]
    return "; ".join(directives)


def set_security_headers(response):
    """Add the security headers to every response, and forbid caching of anything but static files.

    Pages, fragments, PDFs, errors and redirects may all show or lead to personal data, and a
    shared terminal keeps the browser's cache and history for the next person.
    """
    is_static_file = request.endpoint == "static" and response.status_code in (200, 304)
    if not is_static_file:
        response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Security-Policy"] = content_security_policy()
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Permissions-Policy"] = PERMISSIONS_POLICY
    response.headers["X-Frame-Options"] = "DENY"
    if current_app.config["KIOSK_HTTPS"]:
        response.headers["Strict-Transport-Security"] = STRICT_TRANSPORT_SECURITY
    return response


def handle_csrf_error(error: CSRFError):
    """Handle a failed CSRF check without losing what the student was doing.

    A logout still logs out, an htmx request asks kiosk.js to resend its form normally, and the
    element page comes back with the submitted choices ticked but not saved. Anything else
    gets the error page.
    """
    logger.warning("CSRF check failed on %s %s: %s", request.method, request.endpoint, error.description)
    if request.endpoint in LOGOUT_ENDPOINTS:
        # Logging out is harmless, and SameSite=Lax already keeps other sites from sending the
        # session cookie with a POST. A stale page must not leave the terminal logged in.
        view = current_app.view_functions[request.endpoint]
        return current_app.ensure_sync(view)(**(request.view_args or {}))
    if is_htmx():
        return "", 400, {PAGE_EXPIRED_HEADER: "true"}
    if request.endpoint in CHOICE_ENDPOINTS:
        response = render_unverified_choices()
        if response is not None:
            return response
    message = _(
        "Votre formulaire a expiré ou n'a pas pu être vérifié. Rechargez la page et recommencez : "
        "ce qui était déjà enregistré est conservé."
    )
    return render_template("error.html", message=message, status=400), 400


def render_unverified_choices():
    """Render the element page with the choices of the rejected request, or None if it cannot be shown.

    The request was not verified, so nothing of it is saved: the student confirms with one click.
    """
    from .services import clock
    from .services.ip import IpClosed, open_ip
    from .services.rules import evaluate
    from .student.auth import current_student
    from .student.routes import render_elements, requested_keys

    student = current_student()
    ia_id = (request.view_args or {}).get("ia_id")
    ia = load_own_ia(student.id, ia_id) if student is not None else None
    if ia is None:
        return None
    try:
        context = open_ip(ia, clock.utcnow())
    except IpClosed:
        return None
    evaluation = evaluate(context.tree, requested_keys())
    message = _("Votre page a expiré : vérifiez vos choix et cliquez de nouveau sur Valider.")
    response = render_elements(context, evaluation.chosen_keys, evaluation, problems=[message], status=400)
    db.session.rollback()
    return response


def load_own_ia(student_id: int, ia_id: int | None):
    """Return the IA if it belongs to the student and to the current year, else None."""
    from .models import Ia
    from .services import clock

    ia = db.session.get(Ia, ia_id) if ia_id is not None else None
    if ia is None or ia.student_id != student_id or ia.year != clock.current_year():
        return None
    return ia


def init_rate_limits(app: Flask) -> None:
    """Create this app's limiter and wrap the login and seat views with their limits.

    Each app gets its own Limiter, because Flask-Limiter keeps its storage and limits on the
    instance. The counters themselves are shared through the storage (Redis in production).
    """
    limiter = Limiter(
        key_func=client_address,
        storage_uri=app.config["KIOSK_RATELIMIT_STORAGE_URI"],
        storage_options=storage_options(app.config["KIOSK_RATELIMIT_STORAGE_URI"]),
        key_prefix=app.config["KIOSK_RATELIMIT_KEY_PREFIX"],
        headers_enabled=True,
        retry_after="delta-seconds",
        # When Redis is down, each host keeps counting on its own rather than refusing logins.
        in_memory_fallback_enabled=True,
    )
    limiter.init_app(app)
    app.extensions["kiosk_limiter"] = limiter

    per_address = limiter.limit(
        lambda: current_app.config["KIOSK_LOGIN_RATE_LIMIT_PER_ADDRESS"], key_func=client_address, methods=["POST"],
    )
    per_name = limiter.limit(
        lambda: current_app.config["KIOSK_LOGIN_RATE_LIMIT_PER_NAME"], key_func=submitted_login_name, methods=["POST"],
    )
    per_ticket_address = limiter.limit(
        lambda: current_app.config["KIOSK_LOGIN_RATE_LIMIT_PER_ADDRESS"], key_func=client_address,
        exempt_when=lambda: "ticket" not in request.args,
    )
    per_student = limiter.shared_limit(
        lambda: current_app.config["KIOSK_SEAT_RATE_LIMIT"], scope="group-seats", key_func=logged_in_student,
    )
    wrap_views(app, LOGIN_FORM_ENDPOINTS, per_address, per_name)
    wrap_views(app, SSO_CALLBACK_ENDPOINTS, per_ticket_address)
    wrap_views(app, SEAT_ENDPOINTS, per_student)
    app.register_error_handler(429, render_too_many_requests)


def storage_options(uri: str) -> dict:
    """Return the Redis client's timeouts in seconds, so that a stalled Redis delays a login by 1 s at most."""
    if uri.startswith("redis"):
        return {"socket_connect_timeout": 1, "socket_timeout": 1}
    return {}


def wrap_views(app: Flask, endpoints, *limits) -> None:
    """Apply the limits to the endpoints' view functions in this app; absent endpoints are skipped."""
    for endpoint in endpoints:
        view = app.view_functions.get(endpoint)
        if view is None:
            continue
        for limit in limits:
            view = limit(view)
        app.view_functions[endpoint] = view


def limited_endpoints() -> set[str]:
    """Return every endpoint name that init_rate_limits limits when it exists."""
    return set(LOGIN_FORM_ENDPOINTS) | set(SSO_CALLBACK_ENDPOINTS) | set(SEAT_ENDPOINTS)


def client_address() -> str:
    return request.remote_addr or "unknown"


def submitted_login_name() -> str:
    """Return a digest of the login name in the form, so that no name reaches Redis or the limiter's log."""
    name = next((request.form[field] for field in LOGIN_NAME_FIELDS if field in request.form), "")
    digest = hashlib.sha256(name.strip().casefold().encode()).hexdigest()
    return f"name-{digest[:32]}"


def logged_in_student() -> str:
    return f"student-{session.get('student_id', 'none')}"


def render_too_many_requests(_error):
    message = _("Trop de tentatives en peu de temps. Patientez une minute, puis réessayez.")
    return render_template("error.html", message=message, status=429), 429
