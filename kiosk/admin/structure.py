"""Structure of the VETs: view each tree whole, edit an ELP or a list link, add or remove list members."""

import logging

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_wtf import FlaskForm

from .. import transaction
from ..extensions import db
from ..models import Elp, ListLink, Vet
from ..services import clock
from ..services.structure_admin import (
    ELP_FIELDS, StructureInvalid, add_list_member, find_elp, link_belongs_to, load_structure, remove_list_member,
    structure_elp_ids, update_elp, update_link, vets_using_elp, vets_using_lse,
)
from . import admin_blueprint as bp
from .auth import current_staff, require_cip, visible_cips
from .forms import AddListMemberForm, ElpForm, ListLinkForm, attach_errors, form_status

logger = logging.getLogger(__name__)


def get_vet(vet_id: int) -> Vet:
    """Load a VET of one of the staff member's CIPs, or 404."""
    vet = db.session.get(Vet, vet_id)
    if vet is None:
        abort(404)
    require_cip(vet.cip_id)
    return vet


def get_vet_elp(vet: Vet, elp_id: int) -> Elp:
    """Load an ELP of the VET's structure, or 404."""
    elp = db.session.get(Elp, elp_id)
    if elp is None or elp.id not in structure_elp_ids(vet):
        abort(404)
    return elp


def get_vet_link(vet: Vet, link_id: int) -> ListLink:
    """Load a list link of the VET's structure, or 404."""
    link = db.session.get(ListLink, link_id)
    if link is None or not link_belongs_to(link, vet):
        abort(404)
    return link


def other_vets(vets: list[Vet], vet: Vet) -> list[Vet]:
    return [other for other in vets if other.id != vet.id]


@bp.get("/structure")
def structure():
    return render_template("admin/structure/index.html", cips=visible_cips())


@bp.get("/vets/<int:vet_id>/structure")
def vet_structure(vet_id: int):
    vet = get_vet(vet_id)
    return render_template("admin/structure/tree.html", vet=vet, lists=load_structure(vet, clock.local_today()))


@bp.route("/vets/<int:vet_id>/elements/<int:elp_id>", methods=["GET", "POST"])
def edit_elp(vet_id: int, elp_id: int):
    vet = get_vet(vet_id)
    elp = get_vet_elp(vet, elp_id)
    form = ElpForm(obj=elp)
    if form.validate_on_submit():
        values = {name: form[name].data for name in ELP_FIELDS}
        try:
            changed = update_elp(elp, values, current_staff().login)
        except StructureInvalid as invalid:
            db.session.rollback()
            attach_errors(form, invalid.errors)
        else:
            transaction.commit()
            if changed:
                flash(_("L'élément %(code)s est modifié.", code=elp.code))
            return redirect(url_for("admin.vet_structure", vet_id=vet.id, _anchor=f"elp-{elp.id}"))
    return render_template(
        "admin/structure/elp.html", vet=vet, elp=elp, form=form, shared_with=other_vets(vets_using_elp(elp.id), vet),
    ), form_status()


def render_link(vet: Vet, link: ListLink, link_form=None, add_form=None, status: int = 200):
    return render_template(
        "admin/structure/link.html", vet=vet, link=link,
        link_form=link_form or ListLinkForm(formdata=None, obj=link),
        add_form=add_form or AddListMemberForm(formdata=None),
        remove_form=FlaskForm(formdata=None),
        shared_with=other_vets(vets_using_lse(link.lse), vet),
    ), status


@bp.route("/vets/<int:vet_id>/liens/<int:link_id>", methods=["GET", "POST"])
def edit_link(vet_id: int, link_id: int):
    vet = get_vet(vet_id)
    link = get_vet_link(vet, link_id)
    form = ListLinkForm(obj=link)
    if form.validate_on_submit():
        try:
            changed = update_link(link, form.min_chosen.data, form.max_chosen.data, form.closes_on.data, current_staff().login)
        except StructureInvalid as invalid:
            db.session.rollback()
            attach_errors(form, invalid.errors)
        else:
            transaction.commit()
            if changed:
                flash(_("La règle de la liste %(code)s est modifiée.", code=link.lse.code))
            return redirect(url_for("admin.edit_link", vet_id=vet.id, link_id=link.id))
    return render_link(vet, link, link_form=form, status=form_status())


@bp.post("/vets/<int:vet_id>/liens/<int:link_id>/elements")
def add_link_member(vet_id: int, link_id: int):
    vet = get_vet(vet_id)
    link = get_vet_link(vet, link_id)
    form = AddListMemberForm()
    if not form.validate_on_submit():
        return render_link(vet, link, add_form=form, status=422)
    elp = find_elp(form.elp_code.data)
    if elp is None:
        form.elp_code.errors = [_("Aucun élément ne porte le code %(code)s.", code=form.elp_code.data.strip())]
        return render_link(vet, link, add_form=form, status=422)
    try:
        add_list_member(link, elp, current_staff().login)
    except StructureInvalid as invalid:
        db.session.rollback()
        attach_errors(form, invalid.errors)
        return render_link(vet, link, add_form=form, status=422)
    transaction.commit()
    flash(_(
        "L'élément %(code)s est ajouté à la liste %(list)s. Affectez-le dans les campagnes pour le proposer aux étudiants.",
        code=elp.code, list=link.lse.code,
    ))
    return redirect(url_for("admin.edit_link", vet_id=vet.id, link_id=link.id))


@bp.post("/vets/<int:vet_id>/liens/<int:link_id>/elements/<int:elp_id>/retrait")
def remove_link_member(vet_id: int, link_id: int, elp_id: int):
    vet = get_vet(vet_id)
    link = get_vet_link(vet, link_id)
    elp = db.session.get(Elp, elp_id)
    if elp is None:
        abort(404)
    if not FlaskForm().validate_on_submit():
        abort(400)
    try:
        remove_list_member(link, elp, current_staff().login)
    except StructureInvalid:
        abort(404)
    transaction.commit()
    flash(_(
        "L'élément %(code)s est retiré de la liste %(list)s. Les brouillons qui le contenaient restent ouverts, "
        "et les contrats déjà validés ne changent pas.", code=elp.code, list=link.lse.code,
    ))
    return redirect(url_for("admin.edit_link", vet_id=vet.id, link_id=link.id))
