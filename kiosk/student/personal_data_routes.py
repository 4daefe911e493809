"""The student's personal data: what the kiosk keeps and why, and the download of all of it."""

import io
import json
import logging

from flask import current_app, render_template, send_file

from ..services import clock
from ..services.personal_data import export_personal_data
from . import student_blueprint as bp
from .auth import current_student, student_required

logger = logging.getLogger(__name__)


@bp.get("/dossier/donnees-personnelles")
@student_required
def personal_data():
    return render_template(
        "student/personal_data.html", retention_years=current_app.config["KIOSK_RETENTION_YEARS"],
    )


@bp.get("/dossier/donnees-personnelles.json")
@student_required
def personal_data_download():
    """Send the logged-in student's own data as a JSON file; there is no way to ask for another's."""
    student = current_student()
    data = export_personal_data(student, clock.utcnow())
    logger.info("Student %s downloaded their personal data", student.id)
    content = json.dumps(data, ensure_ascii=False, indent=2).encode("utf-8")
    return send_file(
        io.BytesIO(content),
        mimetype="application/json",
        as_attachment=True,
        download_name=f"donnees-personnelles-{student.number}.json",
        max_age=0,
    )
