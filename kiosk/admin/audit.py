"""The audit trail page: who changed what and when, filtered and paginated.

Administrators see every entry. A gestionnaire sees their own actions, and the entries about
their CIPs, their CIPs' campaigns, and the IPs and records of students with an IA on their
VETs. Entries about shared objects (ELPs, lists, groups) made by others stay hidden from them,
because an ELP or a list may belong to several CIPs.
"""

from datetime import date, datetime, time, timedelta

from flask import render_template, request
from flask_babel import lazy_gettext as _l
from sqlalchemy import String, cast, or_, select
from wtforms import SelectChoice

from ..extensions import db
from ..models import AuditEntry, Campaign, Ia, Ip, StaffUser, Student, Vet
from ..services import clock
from . import admin_blueprint as bp
from .auth import current_staff
from .forms import AuditFilterForm

PER_PAGE = 50

ACTION_LABELS = {
    "set_web_access": _l("Accès à distance d'un CIP"),
    "create_campaign": _l("Création de campagne"),
    "update_campaign": _l("Modification de campagne"),
    "initialise_campaign": _l("Initialisation sur des VET"),
    "assign_campaign": _l("Affectation des éléments"),
    "set_collection_mode": _l("Mode d'affectation des groupes"),
    "set_group_capacity": _l("Capacité d'un groupe"),
    "delete_campaign": _l("Suppression de campagne"),
    "detach_ip": _l("IP détachée de sa campagne"),
    "update_elp": _l("Modification d'un élément"),
    "update_list_link": _l("Règle d'une liste"),
    "add_list_member": _l("Ajout d'un élément à une liste"),
    "remove_list_member": _l("Retrait d'un élément d'une liste"),
    "desk_save_selection": _l("Brouillon enregistré au guichet"),
    "desk_validate_ip": _l("IP validée au guichet"),
    "desk_place_group": _l("Groupe attribué au guichet"),
    "update_contact": _l("Coordonnées corrigées par l'étudiant"),
}

OBJECT_TYPE_LABELS = {
    "cip": _l("CIP"),
    "campaign": _l("Campagne"),
    "ip": _l("IP"),
    "student": _l("Étudiant"),
    "elp": _l("Élément (ELP)"),
    "lse": _l("Liste (LSE)"),
    "list_link": _l("Lien de liste"),
    "group": _l("Groupe"),
}


FIELD_LABELS = {
    "is_web_open": _l("accès à distance"), "code": _l("code"), "label": _l("libellé"), "opens_at": _l("ouverture"),
    "closes_at": _l("fermeture"), "allows_partial": _l("validation partielle"), "cip": _l("CIP"), "vets": _l("VET"),
    "vet": _l("VET"), "elements": _l("éléments"), "collection": _l("groupes"), "mode": _l("mode"),
    "has_waitlist": _l("liste d'attente"), "group": _l("groupe"), "capacity": _l("capacité"),
    "intermediate_capacity": _l("capacité intermédiaire"), "detached_ips": _l("IP détachées"), "ip": _l("IP"),
    "student": _l("étudiant"), "campaign": _l("campagne"), "ects": _l("ECTS"), "is_suspended": _l("suspendu"),
    "min_chosen": _l("minimum"), "max_chosen": _l("maximum"), "min_ects": _l("minimum ECTS"),
    "max_ects": _l("maximum ECTS"), "list": _l("liste"), "closes_on": _l("fermeture du lien"), "elp": _l("élément"),
    "selection": _l("éléments cochés"), "status": _l("état"), "version": _l("version"),
    "email": _l("courriel"), "phone": _l("téléphone"), "address_line": _l("adresse"), "postal_code": _l("code postal"),
    "city": _l("ville"), "country": _l("pays"),
}


def object_names(entries: list[AuditEntry]) -> dict[tuple[str, str], str]:
    """Name the campaigns and IPs of the page by code and student, in two queries."""
    campaign_ids = {int(e.object_id) for e in entries if e.object_type == "campaign" and e.object_id.isdigit()}
    ip_ids = {int(e.object_id) for e in entries if e.object_type == "ip" and e.object_id.isdigit()}
    names = {}
    for campaign_id, code in db.session.execute(select(Campaign.id, Campaign.code).where(Campaign.id.in_(campaign_ids))):
        names[("campaign", str(campaign_id))] = code
    for ip in db.session.scalars(select(Ip).where(Ip.id.in_(ip_ids))):
        names[("ip", str(ip.id))] = f"{ip.id} ({ip.student.number}, {ip.vet.full_code})"
    return names


def format_value(value) -> str:
    """Write an audit value on one line: lists comma-separated, records as key=value, None as a dash."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return str(_l("oui") if value else _l("non"))
    if isinstance(value, dict):
        return " ".join(f"{FIELD_LABELS.get(key, key)} {format_value(item)}" for key, item in value.items())
    if isinstance(value, list):
        return ", ".join(format_value(item) for item in value) or "—"
    return str(value)


def visible_entries(staff: StaffUser):
    """Select the audit entries the staff member may read."""
    query = select(AuditEntry)
    if staff.is_admin:
        return query
    cip_ids = [cip.id for cip in staff.cips]
    campaign_ids = select(cast(Campaign.id, String)).where(Campaign.cip_id.in_(cip_ids))
    ip_ids = select(cast(Ip.id, String)).join(Vet, Vet.id == Ip.vet_id).where(Vet.cip_id.in_(cip_ids))
    student_numbers = (
        select(Student.number).join(Ia, Ia.student_id == Student.id).join(Vet, Vet.id == Ia.vet_id)
        .where(Vet.cip_id.in_(cip_ids))
    )
    return query.where(or_(
        AuditEntry.actor == staff.login,
        (AuditEntry.object_type == "cip") & AuditEntry.object_id.in_([cip.code for cip in staff.cips]),
        (AuditEntry.object_type == "campaign") & AuditEntry.object_id.in_(campaign_ids),
        (AuditEntry.object_type == "ip") & AuditEntry.object_id.in_(ip_ids),
        (AuditEntry.object_type == "student") & AuditEntry.object_id.in_(student_numbers),
    ))


def apply_filters(query, form: AuditFilterForm):
    if form.actor.data:
        query = query.where(AuditEntry.actor == form.actor.data.strip())
    if form.action.data:
        query = query.where(AuditEntry.action == form.action.data)
    if form.object_type.data:
        query = query.where(AuditEntry.object_type == form.object_type.data)
    # The filter dates are local days, but entries are stored in naive UTC.
    if form.date_from.data:
        query = query.where(AuditEntry.at >= clock.local_to_utc(_midnight(form.date_from.data)))
    if form.date_to.data:
        query = query.where(AuditEntry.at < clock.local_to_utc(_midnight(form.date_to.data + timedelta(days=1))))
    return query


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time.min)


@bp.get("/journal")
def audit_log():
    form = AuditFilterForm(formdata=request.args)
    actions = sorted(ACTION_LABELS.items(), key=lambda item: str(item[1]))
    form.action.choices = [SelectChoice("", _l("Toutes"))] + [SelectChoice(key, label) for key, label in actions]
    form.object_type.choices = [SelectChoice("", _l("Tous"))] + [
        SelectChoice(key, label) for key, label in OBJECT_TYPE_LABELS.items()
    ]
    query = visible_entries(current_staff())
    if form.validate():
        query = apply_filters(query, form)
    page = db.paginate(
        query.order_by(AuditEntry.at.desc(), AuditEntry.id.desc()),
        page=request.args.get("page", 1, type=int), per_page=PER_PAGE, error_out=False,
    )
    filters = {key: value for key, value in request.args.items() if key != "page" and value}
    return render_template(
        "admin/audit.html", form=form, page=page, filters=filters,
        action_labels=ACTION_LABELS, object_type_labels=OBJECT_TYPE_LABELS, format_value=format_value,
        field_labels=FIELD_LABELS, object_names=object_names(page.items),
    )
