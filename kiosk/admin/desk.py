"""The desk: find a student, do or change their IP on their behalf, read every contract version."""

import logging

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from wtforms import SelectChoice

from .. import transaction
from ..extensions import db
from ..models import Ia, Ip, IpVersion, Student
from ..services import clock
from ..services.contract import queue_contract_mail
from ..services.desk import (
    desk_reasons, open_desk_ip, place_in_group, save_desk_selection, search_students, validate_desk_ip,
    visible_student_ids,
)
from ..services.groups import GroupFull, offered_collections
from ..services.ip import IpAlreadyValidated, IpClosed, IpContext, IpIncomplete, find_ip, stored_keys
from ..services.rules import Evaluation, SelectionRejected, evaluate
from . import admin_blueprint as bp
from .auth import current_staff, require_cip, visible_cips
from .forms import DeskGroupForm, DeskSearchForm, DeskSelectionForm

logger = logging.getLogger(__name__)


def visible_cip_ids() -> list[int]:
    return [cip.id for cip in visible_cips()]


def get_desk_student(student_id: int) -> Student:
    """Load a student with an IA of the year in one of the staff member's CIPs, or 404."""
    student = db.session.get(Student, student_id)
    visible = visible_student_ids(visible_cip_ids(), clock.current_year())
    if student is None or db.session.scalar(visible.where(Ia.student_id == student.id).limit(1)) is None:
        abort(404)
    return student


def get_desk_ia(ia_id: int) -> Ia:
    """Load an IA of the current year on a VET of one of the staff member's CIPs, or 404."""
    ia = db.session.get(Ia, ia_id)
    if ia is None:
        abort(404)
    require_cip(ia.vet.cip_id)
    if ia.year != clock.current_year():
        abort(404)
    return ia


def get_desk_version(ip_id: int, number: int) -> IpVersion:
    """Load a contract version of an IP on a VET of one of the staff member's CIPs, or 404."""
    ip = db.session.get(Ip, ip_id)
    if ip is None:
        abort(404)
    require_cip(ip.vet.cip_id)
    version = next((v for v in ip.versions if v.number == number), None)
    if version is None:
        abort(404)
    return version


@bp.get("/guichet")
def desk():
    form = DeskSearchForm(formdata=request.args)
    students = None
    if "q" in request.args and form.validate():
        students = search_students(form.q.data, visible_cip_ids(), clock.current_year())
    return render_template("admin/desk/search.html", form=form, students=students)


@bp.get("/guichet/etudiants/<int:student_id>")
def desk_student(student_id: int):
    student = get_desk_student(student_id)
    year = clock.current_year()
    cip_ids = set(visible_cip_ids())
    now = clock.utcnow()
    rows = [
        {"ia": ia, "ip": find_ip(ia), "reasons": desk_reasons(ia, now)}
        for ia in student.ias
        if ia.year == year and ia.vet.cip_id in cip_ids
    ]
    return render_template("admin/desk/student.html", student=student, rows=rows, year=year)


def render_desk_ip(context: IpContext, selected: set[str], evaluation: Evaluation, problems=(), status: int = 200):
    form = DeskSelectionForm(formdata=None, base_version=context.ip.version_count if context.ip else 0)
    offered = offered_collections(context.tree, evaluation.chosen_keys, context.campaign.id, context.ia.student_id)
    group_forms = {}
    for item in offered:
        group_form = DeskGroupForm(formdata=None, prefix=f"collection-{item.collection.id}")
        group_form.group.choices = [SelectChoice(g.id, g.label) for g in item.groups]
        group_forms[item.collection.id] = group_form
    return render_template(
        "admin/desk/ip.html", context=context, ia=context.ia, student=context.ia.student, ip=context.ip,
        tree=context.tree, selected=evaluation.chosen_keys, evaluation=evaluation, problems=list(problems),
        form=form, offered=offered, group_forms=group_forms, is_open=context.campaign.is_open_at(clock.utcnow()),
    ), status


def render_closed(ia: Ia, reasons: list[str], status: int):
    return render_template("admin/desk/closed.html", ia=ia, student=ia.student, reasons=reasons), status


def render_stored(ia: Ia, problems=(), status: int = 200):
    """Render the desk IP page from the stored draft."""
    context = open_desk_ip(ia, clock.utcnow())
    selected = stored_keys(context.ip)
    return render_desk_ip(context, selected, evaluate(context.tree, selected), problems, status)


@bp.get("/guichet/ia/<int:ia_id>")
def desk_ip(ia_id: int):
    ia = get_desk_ia(ia_id)
    try:
        return render_stored(ia)
    except IpClosed as closed:
        return render_closed(ia, closed.messages, 403)


@bp.post("/guichet/ia/<int:ia_id>/brouillon")
def desk_save(ia_id: int):
    ia = get_desk_ia(ia_id)
    form = DeskSelectionForm()
    if not form.validate_on_submit():
        abort(400)
    now = clock.utcnow()
    try:
        context = open_desk_ip(ia, now)
        save_desk_selection(context, set(form.element.data), current_staff().login, now)
    except IpClosed as closed:
        db.session.rollback()
        return render_closed(ia, closed.messages, 403)
    except SelectionRejected as rejected:
        db.session.rollback()
        return render_stored(ia, rejected.messages, 422)
    transaction.commit()
    flash(_("Le brouillon de %(name)s est enregistré.", name=ia.student.full_name))
    return redirect(url_for("admin.desk_ip", ia_id=ia.id))


def validate_at_desk(ia_id: int, is_partial: bool):
    ia = get_desk_ia(ia_id)
    form = DeskSelectionForm()
    if not form.validate_on_submit():
        abort(400)
    now = clock.utcnow()
    requested = set(form.element.data)
    try:
        context = open_desk_ip(ia, now)
        version = validate_desk_ip(context, requested, is_partial, current_staff().login, now, form.base_version.data)
        queue_contract_mail(ia.student, version)
    except IpClosed as closed:
        db.session.rollback()
        return render_closed(ia, closed.messages, 403)
    except IpAlreadyValidated as already:
        db.session.rollback()
        if already.version is None:
            abort(409)
        flash(_(
            "Cette IP avait déjà été validée (version %(number)s), depuis un autre onglet ou par l'étudiant. "
            "Voici la version enregistrée.", number=already.version.number,
        ))
        return redirect(url_for("admin.desk_contract", ip_id=already.version.ip_id, number=already.version.number))
    except SelectionRejected as rejected:
        db.session.rollback()
        return render_stored(ia, rejected.messages, 422)
    except IpIncomplete as incomplete:
        # Show what the staff ticked with each list's message, and save nothing.
        db.session.rollback()
        context = open_desk_ip(ia, now)
        return render_desk_ip(context, requested, incomplete.evaluation, incomplete.messages, 422)
    transaction.commit()
    flash(_(
        "L'IP de %(name)s est validée (version %(number)s) ; le contrat lui est envoyé par courriel.",
        name=ia.student.full_name, number=version.number,
    ))
    return redirect(url_for("admin.desk_contract", ip_id=version.ip_id, number=version.number))


@bp.post("/guichet/ia/<int:ia_id>/validation")
def desk_validate(ia_id: int):
    return validate_at_desk(ia_id, is_partial=False)


@bp.post("/guichet/ia/<int:ia_id>/validation-partielle")
def desk_validate_partially(ia_id: int):
    return validate_at_desk(ia_id, is_partial=True)


@bp.post("/guichet/ia/<int:ia_id>/groupes/<int:collection_id>")
def desk_place_group(ia_id: int, collection_id: int):
    ia = get_desk_ia(ia_id)
    now = clock.utcnow()
    try:
        context = open_desk_ip(ia, now)
    except IpClosed as closed:
        return render_closed(ia, closed.messages, 403)
    evaluation = evaluate(context.tree, stored_keys(context.ip))
    offered = offered_collections(context.tree, evaluation.chosen_keys, context.campaign.id, ia.student_id)
    item = next((o for o in offered if o.collection.id == collection_id), None)
    if item is None:
        abort(404)
    form = DeskGroupForm(prefix=f"collection-{collection_id}")
    form.group.choices = [SelectChoice(g.id, g.label) for g in item.groups]
    if not form.validate_on_submit():
        abort(400)
    group = next(g for g in item.groups if g.id == form.group.data)
    try:
        place_in_group(ia.student, item, group, current_staff().login, now)
    except GroupFull:
        db.session.rollback()
        flash(_("Le groupe %(group)s est complet : choisissez-en un autre, ou augmentez sa capacité.", group=group.label))
    else:
        transaction.commit()
        flash(_("%(name)s est inscrit(e) dans le groupe %(group)s.", name=ia.student.full_name, group=group.label))
    return redirect(url_for("admin.desk_ip", ia_id=ia.id, _anchor="desk-groups"))


@bp.get("/guichet/contrats/<int:ip_id>/v<int:number>")
def desk_contract(ip_id: int, number: int):
    version = get_desk_version(ip_id, number)
    ia = db.session.scalar(
        select(Ia).where(Ia.student_id == version.ip.student_id, Ia.year == version.ip.year, Ia.vet_id == version.ip.vet_id)
    )
    return render_template("admin/desk/contract.html", version=version, contract=version.contract, ia=ia)
