"""Relances: preview the reminder mails of a campaign, send them once, and show what was sent."""

import secrets

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import Form, HiddenField, IntegerField, StringField
from wtforms.validators import DataRequired, Length, Optional, Regexp

from .. import transaction
from ..extensions import db
from ..models import Campaign, CampaignVet, ReminderAction, Student
from ..services import clock
from ..services.followup import make_scope
from ..services.reminders import (
    ReminderNotAllowed, check_campaign_open, find_recipients, render_reminder, send_reminders, student_locale,
)
from . import admin_blueprint as bp
from .auth import current_staff, require_cip
from .followup import STATE_LABELS, get_campaign

TOKEN_PATTERN = r"^[A-Za-z0-9_-]{16,64}$"
PREVIEW_LIMIT = 200  # recipients listed on the preview page; the count covers them all


def strip_text(value):
    return value.strip() if isinstance(value, str) else value


class ReminderScopeForm(Form):
    """The query string of the preview: a VET of the campaign, or one student's number."""

    vet = IntegerField(_l("VET"), validators=[Optional()])
    etudiant = StringField(_l("Numéro étudiant"), filters=[strip_text], validators=[Optional(), Length(max=20)])


class ReminderSendForm(FlaskForm):
    """The preview's confirmation, with the token that makes the send happen once."""

    token = HiddenField(validators=[DataRequired(), Regexp(TOKEN_PATTERN)])
    vet = HiddenField(validators=[Optional(), Regexp(r"^[0-9]+$")])
    etudiant = HiddenField(filters=[strip_text], validators=[Optional(), Length(max=20)])


def campaign_vet_id(campaign: Campaign, vet_id: int | None) -> int | None:
    """Return vet_id if the campaign is initialised on that VET, or abort with 404."""
    if vet_id is None:
        return None
    if db.session.get(CampaignVet, (campaign.id, vet_id)) is None:
        abort(404)
    return vet_id


def find_student(number: str) -> Student | None:
    return db.session.scalar(select(Student).where(Student.number == number)) if number else None


@bp.get("/relances/campagnes/<int:campaign_id>")
def reminder_preview(campaign_id: int):
    campaign = get_campaign(campaign_id)
    scope_form = ReminderScopeForm(request.args)
    if not scope_form.validate():
        abort(400)
    vet_id = campaign_vet_id(campaign, scope_form.vet.data)
    number = scope_form.etudiant.data or ""
    student = find_student(number)
    context = {"campaign": campaign, "vet_id": vet_id, "number": number, "state_labels": STATE_LABELS}
    if number and student is None:
        context["error"] = _("Aucun étudiant ne porte le numéro %(number)s.", number=number)
        return render_template("admin/reminders/preview.html", recipients=[], **context), 404

    try:
        check_campaign_open(campaign, clock.utcnow())
    except ReminderNotAllowed as error:
        context["error"] = str(error)
    recipients = find_recipients(make_scope(campaign, vet_id), student.id if student else None)
    sample = None
    if recipients:
        sample = render_reminder(recipients[0], campaign, student_locale(recipients[0].student))
    form = ReminderSendForm(token=secrets.token_urlsafe(24), vet=vet_id or "", etudiant=number)
    return render_template(
        "admin/reminders/preview.html", recipients=recipients, shown=recipients[:PREVIEW_LIMIT], sample=sample,
        form=form, **context,
    )


@bp.post("/relances/campagnes/<int:campaign_id>")
def reminder_send(campaign_id: int):
    campaign = get_campaign(campaign_id)
    form = ReminderSendForm()
    if not form.validate_on_submit():
        abort(400)
    vet_id = campaign_vet_id(campaign, int(form.vet.data) if form.vet.data else None)
    student = find_student(form.etudiant.data)
    if form.etudiant.data and student is None:
        abort(404)

    now = clock.utcnow()
    try:
        check_campaign_open(campaign, now)
    except ReminderNotAllowed as error:
        flash(str(error))
        number = form.etudiant.data or None
        return redirect(url_for("admin.reminder_preview", campaign_id=campaign.id, vet=vet_id, etudiant=number))
    result = send_reminders(make_scope(campaign, vet_id), form.token.data, current_staff().login, now, student)
    transaction.commit()

    if result.is_new:
        flash(_("%(count)s courriel(s) de relance mis en file d'envoi.", count=result.mail_count))
    else:
        flash(_("Cette relance a déjà été envoyée : aucun courriel de plus n'est parti."))
    return redirect(url_for("admin.reminder_action", action_id=result.action.id))


@bp.get("/relances/<int:action_id>")
def reminder_action(action_id: int):
    action = db.session.get(ReminderAction, action_id)
    if action is None:
        abort(404)
    require_cip(action.campaign.cip_id)
    return render_template("admin/reminders/action.html", action=action, campaign=action.campaign)
