"""Campaigns of a CIP: create, edit, initialise on VETs, assign to elements, group settings, delete."""

import logging

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import SelectChoice

from .. import transaction
from ..extensions import db
from ..models import Campaign, Vet
from ..services import clock
from ..services.campaigns import (
    CampaignHasIps, CampaignInvalid, CampaignValues, assign_elements, assigned_elp_ids, campaign_ips,
    collection_setting, count_ips, create_campaign, delete_campaign, initialise_campaign, set_collection_mode,
    set_group_capacity, update_campaign, vet_collections,
)
from ..services.tree import build_tree
from . import admin_blueprint as bp
from .auth import current_staff, require_cip
from .forms import (
    CampaignForm, CampaignVetsForm, CollectionModeForm, DeleteCampaignForm, GroupCapacityForm, MultiCheckboxField,
    attach_errors, form_status,
)

logger = logging.getLogger(__name__)


def get_campaign(campaign_id: int) -> Campaign:
    """Load a campaign of one of the staff member's CIPs, or 404."""
    campaign = db.session.get(Campaign, campaign_id)
    if campaign is None:
        abort(404)
    require_cip(campaign.cip_id)
    return campaign


def get_campaign_vet(campaign: Campaign, vet_id: int) -> Vet:
    """Load a VET of the campaign's CIP, or 404."""
    vet = db.session.get(Vet, vet_id)
    if vet is None or vet.cip_id != campaign.cip_id:
        abort(404)
    return vet


def form_values(form: CampaignForm) -> CampaignValues:
    return CampaignValues(
        code=form.code.data, label=form.label.data, opens_at_local=form.opens_at.data,
        closes_at_local=form.closes_at.data, allows_partial=form.allows_partial.data,
    )


def local_form_data(campaign: Campaign) -> dict:
    """Return the campaign as the form shows it, dates in local time."""
    return {
        "code": campaign.code, "label": campaign.label, "allows_partial": campaign.allows_partial,
        "opens_at": clock.to_local(campaign.opens_at).replace(tzinfo=None),
        "closes_at": clock.to_local(campaign.closes_at).replace(tzinfo=None),
    }


@bp.get("/cips/<int:cip_id>/campagnes")
def campaigns(cip_id: int):
    cip = require_cip(cip_id)
    rows = db.session.scalars(select(Campaign).where(Campaign.cip_id == cip.id).order_by(Campaign.opens_at.desc())).all()
    return render_template("admin/campaigns/list.html", cip=cip, campaigns=rows, now=clock.utcnow())


@bp.route("/cips/<int:cip_id>/campagnes/nouvelle", methods=["GET", "POST"])
def new_campaign(cip_id: int):
    cip = require_cip(cip_id)
    form = CampaignForm()
    if form.validate_on_submit():
        try:
            campaign = create_campaign(cip, form_values(form), current_staff().login)
        except CampaignInvalid as invalid:
            db.session.rollback()
            attach_errors(form, invalid.errors)
        else:
            transaction.commit()
            flash(_("La campagne %(code)s est créée. Choisissez maintenant les VET qu'elle couvre.", code=campaign.code))
            return redirect(url_for("admin.campaign_vets", campaign_id=campaign.id))
    return render_template("admin/campaigns/form.html", cip=cip, campaign=None, form=form), form_status()


@bp.get("/campagnes/<int:campaign_id>")
def campaign(campaign_id: int):
    campaign = get_campaign(campaign_id)
    assigned_counts = {vet.id: len(assigned_elp_ids(campaign, vet)) for vet in campaign.vets}
    return render_template(
        "admin/campaigns/show.html", campaign=campaign, cip=campaign.cip, now=clock.utcnow(),
        assigned_counts=assigned_counts, ip_count=count_ips(campaign),
    )


@bp.route("/campagnes/<int:campaign_id>/modifier", methods=["GET", "POST"])
def edit_campaign(campaign_id: int):
    campaign = get_campaign(campaign_id)
    form = CampaignForm(data=local_form_data(campaign))
    if form.validate_on_submit():
        try:
            changed = update_campaign(campaign, form_values(form), current_staff().login)
        except CampaignInvalid as invalid:
            db.session.rollback()
            attach_errors(form, invalid.errors)
        else:
            transaction.commit()
            if changed:
                flash(_("La campagne %(code)s est modifiée.", code=campaign.code))
            return redirect(url_for("admin.campaign", campaign_id=campaign.id))
    return render_template("admin/campaigns/form.html", cip=campaign.cip, campaign=campaign, form=form), form_status()


@bp.route("/campagnes/<int:campaign_id>/vets", methods=["GET", "POST"])
def campaign_vets(campaign_id: int):
    campaign = get_campaign(campaign_id)
    vets = sorted(campaign.cip.vets, key=lambda vet: (vet.code, vet.version))
    form = CampaignVetsForm()
    form.vets.choices = [SelectChoice(vet.id, f"{vet.full_code} · {vet.label}") for vet in vets]
    if form.validate_on_submit():
        if initialise_campaign(campaign, set(form.vets.data), current_staff().login):
            transaction.commit()
            flash(_("La campagne %(code)s couvre maintenant %(count)s VET.", code=campaign.code, count=len(campaign.vets)))
        return redirect(url_for("admin.campaign", campaign_id=campaign.id))
    if request.method == "GET":
        form.vets.data = select_all_or(request.args.get("tout"), [vet.id for vet in vets], [vet.id for vet in campaign.vets])
    return render_template("admin/campaigns/vets.html", campaign=campaign, cip=campaign.cip, form=form), form_status()


def select_all_or(choice: str | None, all_ids: list[int], current_ids) -> list[int]:
    """Tick every box for ?tout=1, none for ?tout=0, else what is recorded: select-all without JavaScript."""
    if choice == "1":
        return list(all_ids)
    if choice == "0":
        return []
    return list(current_ids)


class AssignmentForm(FlaskForm):
    elps = MultiCheckboxField(coerce=int, validate_choice=True)


@bp.route("/campagnes/<int:campaign_id>/vets/<int:vet_id>/affectation", methods=["GET", "POST"])
def campaign_assignment(campaign_id: int, vet_id: int):
    campaign = get_campaign(campaign_id)
    vet = get_campaign_vet(campaign, vet_id)
    tree = build_tree(vet, clock.local_today(), campaign_id=None)
    form = AssignmentForm()
    elp_ids = sorted({element.elp_id for _depth, element in tree.walk()})
    form.elps.choices = [SelectChoice(elp_id) for elp_id in elp_ids]
    if form.validate_on_submit():
        if assign_elements(campaign, tree, set(form.elps.data), current_staff().login):
            transaction.commit()
            flash(_("L'affectation de la campagne %(code)s sur %(vet)s est enregistrée.", code=campaign.code, vet=vet.full_code))
        return redirect(url_for("admin.campaign_assignment", campaign_id=campaign.id, vet_id=vet.id))
    if request.method == "GET":
        form.elps.data = select_all_or(
            request.args.get("tout"), elp_ids, assigned_elp_ids(campaign, vet)
        )
    return render_template(
        "admin/campaigns/assignment.html", campaign=campaign, cip=campaign.cip, vet=vet, tree=tree, form=form,
        ticked=set(form.elps.data or []), is_initialised=vet in campaign.vets,
    ), form_status()


def render_groups(campaign: Campaign, vet: Vet, failed: dict[str, FlaskForm] | None = None, status: int = 200):
    """Render the groups page. failed maps a form prefix to the form sent back with its errors."""
    failed = failed or {}
    sections = []
    for collection in vet_collections(vet):
        setting = collection_setting(campaign, collection)
        prefix = f"collection-{collection.id}"
        mode_form = failed.get(prefix)
        if mode_form is None:
            mode_form = CollectionModeForm(
                formdata=None, prefix=prefix,
                mode=setting.mode if setting else "staff", has_waitlist=bool(setting and setting.has_waitlist),
            )
        group_forms = []
        for group in collection.groups:
            prefix = f"group-{group.id}"
            capacity_form = failed.get(prefix)
            if capacity_form is None:
                capacity_form = GroupCapacityForm(
                    formdata=None, prefix=prefix, capacity=group.capacity, intermediate_capacity=group.intermediate_capacity,
                )
            group_forms.append((group, capacity_form))
        sections.append({"collection": collection, "mode_form": mode_form, "group_forms": group_forms})
    return render_template(
        "admin/campaigns/groups.html", campaign=campaign, cip=campaign.cip, vet=vet, sections=sections,
    ), status


def get_vet_collection(vet: Vet, collection_id: int):
    collection = next((c for c in vet_collections(vet) if c.id == collection_id), None)
    if collection is None:
        abort(404)
    return collection


@bp.get("/campagnes/<int:campaign_id>/vets/<int:vet_id>/groupes")
def campaign_groups(campaign_id: int, vet_id: int):
    campaign = get_campaign(campaign_id)
    return render_groups(campaign, get_campaign_vet(campaign, vet_id))


@bp.post("/campagnes/<int:campaign_id>/vets/<int:vet_id>/groupes/collections/<int:collection_id>")
def set_campaign_collection_mode(campaign_id: int, vet_id: int, collection_id: int):
    campaign = get_campaign(campaign_id)
    vet = get_campaign_vet(campaign, vet_id)
    collection = get_vet_collection(vet, collection_id)
    prefix = f"collection-{collection.id}"
    form = CollectionModeForm(prefix=prefix)
    if not form.validate_on_submit():
        return render_groups(campaign, vet, {prefix: form}, 422)
    if set_collection_mode(campaign, collection, form.mode.data, form.has_waitlist.data, current_staff().login):
        transaction.commit()
        flash(_("Les groupes « %(collection)s » sont enregistrés pour la campagne %(code)s.", collection=collection.label, code=campaign.code))
    return redirect(url_for("admin.campaign_groups", campaign_id=campaign.id, vet_id=vet.id, _anchor=f"collection-{collection.id}"))


@bp.post("/campagnes/<int:campaign_id>/vets/<int:vet_id>/groupes/<int:group_id>/capacite")
def set_campaign_group_capacity(campaign_id: int, vet_id: int, group_id: int):
    campaign = get_campaign(campaign_id)
    vet = get_campaign_vet(campaign, vet_id)
    group = next((g for c in vet_collections(vet) for g in c.groups if g.id == group_id), None)
    if group is None:
        abort(404)
    prefix = f"group-{group.id}"
    form = GroupCapacityForm(prefix=prefix)
    if not form.validate_on_submit():
        return render_groups(campaign, vet, {prefix: form}, 422)
    try:
        changed = set_group_capacity(
            group, form.capacity.data, form.intermediate_capacity.data, current_staff().login, clock.utcnow()
        )
    except ValueError as invalid:
        db.session.rollback()
        form.intermediate_capacity.errors = [str(invalid)]
        return render_groups(campaign, vet, {prefix: form}, 422)
    if changed:
        transaction.commit()
        flash(_("Le groupe %(group)s a maintenant %(capacity)s places.", group=group.label, capacity=group.capacity))
    return redirect(url_for("admin.campaign_groups", campaign_id=campaign.id, vet_id=vet.id, _anchor=f"collection-{group.collection_id}"))


@bp.route("/campagnes/<int:campaign_id>/suppression", methods=["GET", "POST"])
def delete_campaign_page(campaign_id: int):
    """Ask for confirmation, listing the IPs to detach, and delete only if the confirmed count still holds."""
    campaign = get_campaign(campaign_id)
    form = DeleteCampaignForm()
    status = 200
    if form.validate_on_submit():
        cip_id, code = campaign.cip_id, campaign.code
        try:
            detached = delete_campaign(campaign, current_staff().login, form.ip_count.data)
        except CampaignHasIps as has_ips:
            db.session.rollback()
            flash(_(
                "La campagne n'est pas supprimée : elle compte %(count)s IP. Vérifiez-les ci-dessous, puis confirmez.",
                count=has_ips.ip_count,
            ))
            status = 409
        else:
            transaction.commit()
            flash(_("La campagne %(code)s est supprimée ; %(count)s IP en sont détachées et conservées.", code=code, count=len(detached)))
            return redirect(url_for("admin.campaigns", cip_id=cip_id))
    elif request.method == "POST":
        status = 422
    ips = campaign_ips(campaign)
    form = DeleteCampaignForm(formdata=None, ip_count=len(ips))
    return render_template("admin/campaigns/delete.html", campaign=campaign, cip=campaign.cip, ips=ips, form=form), status
