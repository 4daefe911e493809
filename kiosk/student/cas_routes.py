"""Student login through the ENT's CAS. One URL sends the browser to CAS and receives the ticket back."""

import logging

from flask import abort, current_app, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from .. import cas, transaction
from ..extensions import db
from ..models import Student
from . import student_blueprint as bp
from .auth import log_in, log_out

logger = logging.getLogger(__name__)


def service_url() -> str:
    """Return the URL that CAS sends the ticket to. Validation must send CAS the same string."""
    return url_for("student.cas_login", _external=True)


def cas_logout_url() -> str:
    """Return the CAS logout URL, which brings the browser back to the kiosk's login page."""
    return cas.logout_url(url_for("student.login", _external=True))


@bp.get("/connexion/cas")
def cas_login():
    if not cas.is_enabled():
        abort(404)
    ticket = request.args.get("ticket")
    if not ticket:
        return redirect(cas.login_url(service_url()))

    # A ticket starts a new login, so the previous user's session is dropped first.
    log_out()
    try:
        user = cas.validate_ticket(ticket, service_url())
    except cas.CasUnavailable:
        return render_template("student/cas_unavailable.html"), 503
    except cas.TicketRejected:
        message = _("Votre connexion par l'ENT n'a pas pu être vérifiée (ticket invalide, expiré ou déjà utilisé). Reconnectez-vous.")
        return render_template("error.html", message=message, status=403), 403

    number = cas.student_number(user)
    student = db.session.scalar(select(Student).where(Student.number == number))
    if student is None:
        attribute = current_app.config["KIOSK_CAS_STUDENT_NUMBER_ATTRIBUTE"]
        source = attribute if user.values(attribute) else "the CAS user name"
        logger.warning("CAS login rejected: no student record has the number taken from %s", source)
        return render_template(
            "student/cas_unknown_student.html", cas_user=user.name, number=number, cas_logout_url=cas_logout_url(),
        ), 403

    log_in(student, "cas")
    transaction.commit()  # log_in stores a language chosen before login on the student
    logger.info("CAS login of student %s", student.id)
    # The redirect takes the ticket out of the address bar.
    return redirect(url_for("student.profile"))
