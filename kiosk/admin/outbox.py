"""The outbox for administrators: pending, sent and failed mails, and a retry for a failed one.

Only administrators see it. Outbox rows store an address, not a student, so a gestionnaire's
view could only match addresses to students, which breaks when two students share an address
or one changes theirs.
"""

import logging

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from wtforms import Form, IntegerField, SelectField
from wtforms.validators import NumberRange, Optional

from .. import transaction
from ..extensions import db
from ..models import OutboxMail
from ..services.audit import record_audit
from ..services.outbox import send_pending
from . import admin_blueprint as bp
from .auth import require_admin

logger = logging.getLogger(__name__)

STATUS_LABELS = {"pending": _l("En attente"), "sent": _l("Envoyé"), "failed": _l("En échec")}
PER_PAGE = 50


class OutboxFilterForm(Form):
    statut = SelectField(_l("État"), default="", choices=[("", _l("Tous"))] + list(STATUS_LABELS.items()))
    page = IntegerField(_l("Page"), default=1, validators=[Optional(), NumberRange(min=1)])


class MailNotFailed(Exception):
    """Only a failed mail can be put back in the queue: a pending one is retried already."""


def requeue_failed_mail(mail: OutboxMail, actor: str) -> None:
    """Put a failed mail back to pending with its attempts reset, and audit the change.

    The caller commits, then sends the mail with send_pending(only_ids=[mail.id]).
    """
    if mail.status != "failed":
        raise MailNotFailed(mail.status)
    before = {"status": mail.status, "attempts": mail.attempts, "last_error": mail.last_error}
    mail.status = "pending"
    mail.attempts = 0
    db.session.flush()
    record_audit(actor, "requeue_mail", "outbox_mail", mail.id, before, {"status": "pending", "attempts": 0})
    logger.info("Mail %s put back in the queue by %s after %s attempt(s)", mail.id, actor, before["attempts"])


def count_by_status() -> dict[str, int]:
    counts = dict.fromkeys(STATUS_LABELS, 0)
    counts.update(db.session.execute(select(OutboxMail.status, func.count()).group_by(OutboxMail.status)).all())
    return counts


@bp.get("/courriels")
def outbox_index():
    require_admin()
    form = OutboxFilterForm(request.args)
    if not form.validate():
        abort(400)
    query = select(OutboxMail).order_by(OutboxMail.created_at.desc(), OutboxMail.id.desc())
    if form.statut.data:
        query = query.where(OutboxMail.status == form.statut.data)
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    page_count = max(1, -(-total // PER_PAGE))
    page = min(form.page.data or 1, page_count)
    mails = db.session.scalars(query.limit(PER_PAGE).offset((page - 1) * PER_PAGE)).all()
    return render_template(
        "admin/outbox/index.html", form=form, mails=mails, counts=count_by_status(), total=total,
        page=page, page_count=page_count, status_labels=STATUS_LABELS, retry_form=FlaskForm(),
    )


@bp.post("/courriels/<int:mail_id>/renvoi")
def outbox_retry(mail_id: int):
    staff = require_admin()
    if not FlaskForm().validate_on_submit():
        abort(400)
    mail = db.session.get(OutboxMail, mail_id)
    if mail is None:
        abort(404)
    try:
        requeue_failed_mail(mail, staff.login)
    except MailNotFailed:
        flash(_("Ce courriel n'est pas en échec : il n'a pas été remis en file."))
        return redirect(url_for("admin.outbox_index", statut=request.args.get("statut")))
    transaction.commit()

    sent, _failed = send_pending(only_ids=[mail_id])
    if sent:
        flash(_("Le courriel n°%(id)s a été envoyé.", id=mail_id))
    else:
        flash(_("Le courriel n°%(id)s n'a pas pu partir : il reste en attente et sera retenté.", id=mail_id))
    return redirect(url_for("admin.outbox_index", statut=request.args.get("statut")))
