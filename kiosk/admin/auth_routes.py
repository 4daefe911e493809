"""Staff login with a local password (for desks without CAS) and logout."""

import logging

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from ..extensions import db
from ..models import StaffUser
from . import admin_blueprint as bp
from .auth import log_in_staff
from .forms import StaffLoginForm

logger = logging.getLogger(__name__)


def safe_next(target: str | None) -> str:
    """Return target if it is a path of the staff console, else the console's home."""
    if target and target.startswith("/gestion/") and not target.startswith("//"):
        return target
    return url_for("admin.index")


@bp.route("/connexion", methods=["GET", "POST"])
def login():
    form = StaffLoginForm()
    if form.validate_on_submit():
        staff = db.session.scalar(select(StaffUser).where(StaffUser.login == form.login.data.strip()))
        if staff is not None and staff.is_active and staff.check_password(form.password.data):
            log_in_staff(staff)
            logger.info("Staff %s logged in", staff.login)
            return redirect(safe_next(request.args.get("next")))
        logger.warning("Failed staff login for %r", form.login.data[:80])
        form.password.errors.append(_("Identifiant ou mot de passe incorrect."))
    status = 401 if request.method == "POST" else 200
    return render_template("admin/login.html", form=form), status


@bp.post("/deconnexion")
def logout():
    from flask import session

    session.clear()
    flash(_("Vous êtes déconnecté."))
    return redirect(url_for("admin.login"))
