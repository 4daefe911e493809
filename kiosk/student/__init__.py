"""The student kiosk: login, data check, IA summary, element choice, validation, contract."""

from flask import Blueprint

student_blueprint = Blueprint("student", __name__)

from . import cas_routes, routes  # noqa: E402,F401  (routes register themselves on the blueprint)
from . import personal_data_routes  # noqa: E402,F401
