"""The staff console. Campaigns, imports and follow-up will live here, one module per resource."""

from flask import Blueprint, abort

admin_blueprint = Blueprint("admin", __name__)


@admin_blueprint.before_request
def require_staff():
    # TODO: staff accounts and roles are not built yet, so every staff URL is refused for now.
    abort(403)
