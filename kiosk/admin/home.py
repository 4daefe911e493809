"""The console's home page: the CIPs the staff member manages."""

from flask import render_template

from . import admin_blueprint as bp
from .auth import current_staff, visible_cips


@bp.get("/")
def index():
    return render_template("admin/index.html", staff=current_staff(), cips=visible_cips())
