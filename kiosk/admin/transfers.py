"""CSV imports and exports in the console: the upload, the import job page that runs its steps, downloads."""

import io
import logging

from flask import abort, redirect, render_template, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from sqlalchemy import select
from wtforms import IntegerField, SelectField
from wtforms.validators import InputRequired, NumberRange

from .. import transaction
from ..extensions import db
from ..models import StaffUser, Vet
from ..services import clock
from ..transfers import IMPORTERS
from ..transfers.base import ImportRejected, Scope
from ..transfers.exports import export_groups, export_ips, group_export_filename, ip_export_filename
from ..transfers.jobs import recent_jobs, run_import_step, start_import_job
from ..transfers.models import ImportJob
from ..web import is_htmx, render_page_or_fragment
from . import admin_blueprint as bp
from .auth import current_staff, require_admin, require_cip, visible_cips
from .forms import form_status

logger = logging.getLogger(__name__)

MAX_IMPORT_BYTES = 20 * 1024 * 1024


class ImportForm(FlaskForm):
    kind = SelectField(_l("Type de fichier"), validators=[InputRequired(_l("Choisissez le type de fichier."))])
    file = FileField(_l("Fichier CSV"), validators=[FileRequired(_l("Choisissez un fichier."))])


class ImportStepForm(FlaskForm):
    """The step the page last showed, so that a step posted twice (two tabs, a retry) runs once."""

    step = IntegerField(validators=[InputRequired(), NumberRange(min=0)])


def staff_scope(staff: StaffUser) -> Scope:
    return Scope(None) if staff.is_admin else Scope(frozenset(cip.id for cip in staff.cips))


def importable_kinds(staff: StaffUser) -> list[tuple[str, str]]:
    return [(kind, str(importer.label)) for kind, importer in IMPORTERS.items()
            if staff.is_admin or not importer.is_admin_only]


def get_own_job(job_id: int) -> ImportJob:
    """Load an import job the staff member started, or 404, since its report quotes the rows of the file."""
    job = db.session.get(ImportJob, job_id)
    if job is None or job.staff_login != current_staff().login:
        abort(404)
    return job


def get_vet(vet_id: int) -> Vet:
    """Load a VET of one of the staff member's CIPs, or 404."""
    vet = db.session.get(Vet, vet_id)
    if vet is None:
        abort(404)
    require_cip(vet.cip_id)
    return vet


@bp.route("/imports", methods=["GET", "POST"])
def imports():
    staff = current_staff()
    form = ImportForm()
    form.kind.choices = importable_kinds(staff)
    issues = []
    if form.validate_on_submit():
        if IMPORTERS[form.kind.data].is_admin_only:
            require_admin()
        data = form.file.data.read(MAX_IMPORT_BYTES + 1)
        if len(data) > MAX_IMPORT_BYTES:
            form.file.errors.append(_("Le fichier dépasse %(size)s Mo ; découpez-le.", size=MAX_IMPORT_BYTES // (1024 * 1024)))
        else:
            filename = (form.file.data.filename or "fichier.csv")[:255]
            try:
                job = start_import_job(form.kind.data, filename, data, staff.login, clock.utcnow())
            except ImportRejected as rejected:
                issues = rejected.issues
            else:
                transaction.commit()
                return redirect(url_for("admin.import_job", job_id=job.id), code=303)
    status = 422 if issues else form_status()
    return render_template("admin/transfers/imports.html", form=form, issues=issues,
                           jobs=recent_jobs(staff.login), importers=IMPORTERS), status


@bp.get("/imports/<int:job_id>")
def import_job(job_id: int):
    job = get_own_job(job_id)
    return render_page_or_fragment("admin/transfers/job.html", "admin/transfers/_job_status.html",
                                   job=job, step_form=ImportStepForm(), importers=IMPORTERS)


@bp.post("/imports/<int:job_id>/etape")
def import_step(job_id: int):
    job = get_own_job(job_id)
    form = ImportStepForm()
    if not form.validate_on_submit():
        abort(400)
    if run_import_step(job, form.step.data, staff_scope(current_staff()), clock.utcnow()):
        transaction.commit()
    if is_htmx():
        return render_template("admin/transfers/_job_status.html", job=job, step_form=ImportStepForm(formdata=None))
    return redirect(url_for("admin.import_job", job_id=job.id), code=303)


@bp.get("/exports")
def exports():
    cips = visible_cips()
    vets = db.session.scalars(
        select(Vet).where(Vet.cip_id.in_([cip.id for cip in cips])).order_by(Vet.code, Vet.version)
    ).all()
    return render_template("admin/transfers/exports.html", vets=vets, year=clock.current_year())


@bp.get("/exports/<int:vet_id>/ip.csv")
def export_vet_ips(vet_id: int):
    vet = get_vet(vet_id)
    year = clock.current_year()
    logger.info("Staff %s exported the IPs of VET %s for %s", current_staff().login, vet.full_code, year)
    return csv_download(export_ips(vet, year), ip_export_filename(vet, year))


@bp.get("/exports/<int:vet_id>/groupes.csv")
def export_vet_groups(vet_id: int):
    vet = get_vet(vet_id)
    logger.info("Staff %s exported the group lists of VET %s", current_staff().login, vet.full_code)
    return csv_download(export_groups(vet), group_export_filename(vet))


def csv_download(data: bytes, filename: str):
    return send_file(io.BytesIO(data), mimetype="text/csv; charset=utf-8", as_attachment=True, download_name=filename)
