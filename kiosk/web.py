"""Request-wide behaviour: response headers, error pages and HTMX helpers."""

import logging
from datetime import date, datetime
from pathlib import Path

from flask import Flask, has_request_context, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError

from .extensions import db

logger = logging.getLogger(__name__)


def is_htmx() -> bool:
    """Whether htmx sent this request (and expects a fragment rather than a page)."""
    return request.headers.get("HX-Request") == "true"


def render_page_or_fragment(page: str, fragment: str, status: int = 200, **context):
    """Render the whole page, or only its fragment for an htmx request: the markup exists once."""
    return render_template(fragment if is_htmx() else page, **context), status


def init_app(app: Flask) -> None:
    @app.after_request
    def set_headers(response):
        # Every page may show personal data, and shared kiosks keep the browser history.
        if not request.path.startswith("/static/"):
            response.headers["Cache-Control"] = "no-store"
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        return response

    @app.errorhandler(CSRFError)
    def csrf_failed(error):
        logger.warning("CSRF check failed on %s: %s", request.path, error.description)
        message = _(
            "Votre formulaire a expiré ou n'a pas pu être vérifié. Rechargez la page et recommencez : "
            "ce qui était déjà enregistré est conservé."
        )
        return render_template("error.html", message=message, status=400), 400

    @app.errorhandler(404)
    def not_found(_error):
        return render_template("error.html", message=_("Cette page n'existe pas."), status=404), 404

    @app.errorhandler(403)
    def forbidden(_error):
        return render_template("error.html", message=_("Vous n'avez pas accès à cette page."), status=403), 403

    @app.errorhandler(500)
    def server_error(_error):
        db.session.rollback()
        return render_template(
            "error.html", message=_("Une erreur inattendue s'est produite. Réessayez dans un instant."), status=500
        ), 500

    from flask_babel import format_date, format_datetime, get_locale

    from .services import clock
    from .services.rules import format_ects, list_counter, list_problem, list_rule
    from .admin.auth import current_staff
    from .student.auth import current_student

    @app.context_processor
    def template_helpers():
        return {
            "current_student": current_student() if has_request_context() else None,
            "current_staff": current_staff() if has_request_context() else None,
            "get_locale": get_locale,
            "format_ects": format_ects,
            "year_label": clock.year_label,
            "list_rule": list_rule,
            "list_counter": list_counter,
            "list_problem": list_problem,
        }

    @app.template_filter("format_date_fr")
    def format_date_filter(value):
        return format_date(value, "d MMMM y")

    @app.template_filter("iso_date_fr")
    def iso_date_filter(value: str):
        return format_date(date.fromisoformat(value), "dd/MM/y")

    @app.template_filter("iso_datetime_fr")
    def iso_datetime_filter(value: str):
        """Show a stored ISO local date-time as it was at the university: 04/12/2026 à 14:05."""
        moment = datetime.fromisoformat(value)
        return _("%(date)s à %(time)s", date=moment.strftime("%d/%m/%Y"), time=moment.strftime("%H:%M"))

    @app.template_global()
    def pdf_font_path(filename: str) -> str:
        """Return the absolute path of a vendored font, which xhtml2pdf embeds in the PDF."""
        return str(Path(app.static_folder) / "fonts" / filename)

    @app.template_filter("format_datetime_local")
    def format_datetime_filter(value_utc):
        """Show a naive UTC datetime in the university's time zone."""
        return format_datetime(clock.to_local(value_utc), "d MMMM y 'à' HH:mm")
