"""Staff login through the ENT's CAS. The staff attribute admits a user, and a StaffUser row gives the CIPs."""

import logging

from flask import abort, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from .. import cas
from ..extensions import db
from ..models import StaffUser
from . import admin_blueprint as bp
from .auth import log_in_staff
from .auth_routes import safe_next

logger = logging.getLogger(__name__)


def service_url() -> str:
    """Return the URL that CAS sends the ticket to. Validation must send CAS the same string."""
    return url_for("admin.cas_login", _external=True)


def render_access_denied(message: str):
    cas_logout_url = cas.logout_url(url_for("admin.login", _external=True))
    return render_template("admin/cas_access_denied.html", message=message, cas_logout_url=cas_logout_url), 403


@bp.get("/connexion/cas")
def cas_login():
    if not cas.is_enabled():
        abort(404)
    ticket = request.args.get("ticket")
    if not ticket:
        # The service URL must stay fixed, so the page to return to waits in the session.
        session["staff_next"] = safe_next(request.args.get("next"))
        return redirect(cas.login_url(service_url()))

    next_url = safe_next(session.get("staff_next"))
    # A ticket starts a new login, so the previous user's session is dropped first.
    session.clear()
    try:
        user = cas.validate_ticket(ticket, service_url())
    except cas.CasUnavailable:
        return render_template("admin/cas_unavailable.html"), 503
    except cas.TicketRejected:
        return render_access_denied(_("Votre connexion par l'ENT n'a pas pu être vérifiée (ticket invalide, expiré ou déjà utilisé). Reconnectez-vous."))

    if not cas.has_staff_affiliation(user):
        logger.warning("CAS user %s without a staff affiliation tried the staff console", user.name)
        return render_access_denied(_("La gestion des inscriptions pédagogiques est réservée au personnel de l'université."))
    staff = db.session.scalar(select(StaffUser).where(StaffUser.login == user.name))
    if staff is None or not staff.is_active:
        logger.warning("CAS user %s is staff but has no active staff account in the kiosk", user.name)
        return render_access_denied(_(
            "Votre compte ENT (%(login)s) n'a pas de compte actif dans la gestion du kiosque. Demandez à un "
            "administrateur du kiosque de vous en créer un et de vous rattacher à vos CIP.", login=user.name,
        ))

    log_in_staff(staff)
    session["login_method"] = "cas"
    logger.info("Staff %s logged in through CAS", staff.login)
    # The redirect takes the ticket out of the address bar.
    return redirect(next_url)
