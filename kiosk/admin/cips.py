"""CIPs: the list of visible CIPs with their VETs, and the "accès à distance" switch."""

import logging

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _

from .. import transaction
from ..services.campaigns import set_web_access
from . import admin_blueprint as bp
from .auth import current_staff, require_cip, visible_cips
from .forms import WebAccessForm

logger = logging.getLogger(__name__)


@bp.get("/cips")
def cips():
    return render_template("admin/cips.html", cips=visible_cips(), form=WebAccessForm())


@bp.post("/cips/<int:cip_id>/acces-distance")
def switch_web_access(cip_id: int):
    cip = require_cip(cip_id)
    form = WebAccessForm()
    if not form.validate_on_submit():
        abort(400)
    is_web_open = form.is_web_open.data == "1"
    if set_web_access(cip, is_web_open, current_staff().login):
        transaction.commit()
    if is_web_open:
        flash(_("L'accès à distance du CIP %(code)s est ouvert : ses étudiants peuvent faire leur IP en ligne pendant les campagnes.", code=cip.code))
    else:
        flash(_("L'accès à distance du CIP %(code)s est fermé : ses étudiants ne peuvent plus faire leur IP en ligne.", code=cip.code))
    return redirect(url_for("admin.cips"))
