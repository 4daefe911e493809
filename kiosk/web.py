"""Request-wide behaviour: error pages, template helpers and HTMX helpers (headers are in kiosk.security)."""

import logging
from datetime import date, datetime
from pathlib import Path

from flask import Flask, g, has_request_context, render_template, request
from flask_babel import gettext as _
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException

from .extensions import db

logger = logging.getLogger(__name__)


def is_htmx() -> bool:
    """Whether htmx sent this request (and expects a fragment rather than a page)."""
    return request.headers.get("HX-Request") == "true"


def render_page_or_fragment(page: str, fragment: str, status: int = 200, **context):
    """Render the whole page, or only its fragment for an htmx request: the markup exists once."""
    return render_template(fragment if is_htmx() else page, **context), status


def render_http_error(error: HTTPException, message: str):
    """Render the error page with the error's status and its headers, such as Allow for a 405."""
    headers = [(name, value) for name, value in error.get_headers() if name.lower() != "content-type"]
    return render_template("error.html", message=message, status=error.code), error.code, headers


def discard_transaction() -> None:
    """Roll the session back, or drop its connection when the database is gone and cannot roll back.

    A connection that PostgreSQL terminated, or a server restart, makes the rollback itself
    raise. The server has already discarded the transaction, so dropping the connection loses
    nothing, and the request can still send its response.
    """
    try:
        db.session.rollback()
    except SQLAlchemyError as error:
        logger.warning("Rollback failed, database connection dropped: %s", error)
        db.session().invalidate()  # the scoped_session proxy has no invalidate()


def init_app(app: Flask) -> None:
    @app.errorhandler(404)
    def not_found(error):
        return render_http_error(error, _("Cette page n'existe pas."))

    @app.errorhandler(403)
    def forbidden(error):
        return render_http_error(error, _("Vous n'avez pas accès à cette page."))

    @app.errorhandler(405)
    def method_not_allowed(error):
        return render_http_error(error, _("Cette page ne s'utilise pas de cette façon. Revenez à l'accueil et recommencez."))

    @app.errorhandler(HTTPException)
    def other_http_error(error):
        """Show every other HTTP error (400, 409, 413…) as a French page rather than Werkzeug's English one."""
        if error.code is None or error.code < 400:
            return error
        message = _("Votre demande n'a pas pu être traitée (erreur %(code)s). Revenez à l'accueil et recommencez.", code=error.code)
        return render_http_error(error, message)

    @app.teardown_appcontext
    def end_transaction(_exception):
        # Registered after Flask-SQLAlchemy's teardown, so it runs before it: that one would
        # raise on a lost connection and turn a finished response into gunicorn's bare 500.
        discard_transaction()

    @app.errorhandler(500)
    def server_error(error):
        discard_transaction()
        if isinstance(getattr(error, "original_exception", None), SQLAlchemyError):
            # The database failed (a locked SQLite file, a lost connection): the page must not query
            # it again for the logged-in user's name, or rendering it fails too and the user gets
            # Werkzeug's bare English 500 page instead of this one.
            g.is_database_failing = True
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
        may_query_users = has_request_context() and not g.get("is_database_failing", False)
        return {
            "current_student": current_student() if may_query_users else None,
            "current_staff": current_staff() if may_query_users else None,
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
        # The Babel pattern is a message, so that each language words it: "4 December 2026 at 14:05".
        return format_datetime(clock.to_local(value_utc), _("d MMMM y 'à' HH:mm"))
