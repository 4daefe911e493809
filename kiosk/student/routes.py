"""Routes of the student kiosk: load, check access, call a service, commit, redirect."""

import io
import logging

from flask import abort, current_app, flash, redirect, render_template, request, send_file, session, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from .. import cas, transaction
from ..extensions import db
from ..models import Group, Ia, Ip, IpVersion, Student
from ..services import clock
from ..services.contract import attachment_filename, ensure_contract_pdf, queue_contract_mail
from ..services.eligibility import check_eligibility
from ..services.groups import GroupFull, join_waitlist, offered_collections, place_student
from ..services.ip import (
    IpAlreadyValidated, IpClosed, IpIncomplete, find_ip, open_ip, save_selection, stored_keys, validate_ip,
    withdrawn_labels,
)
from ..services.rules import SelectionRejected, evaluate
from ..services.students import update_contact
from ..web import is_htmx
from . import student_blueprint as bp
from .auth import current_student, log_in, log_out, student_required
from .cas_routes import cas_logout_url
from .forms import ContactForm, DemoLoginForm

logger = logging.getLogger(__name__)


def get_own_ia(ia_id: int) -> Ia:
    """Load an IA of the logged-in student of the current year, or 404 (never another's)."""
    ia = db.session.get(Ia, ia_id)
    if ia is None or ia.student_id != current_student().id or ia.year != clock.current_year():
        abort(404)
    return ia


def get_own_version(ip_id: int, number: int | None) -> IpVersion:
    """Load a contract version of the logged-in student's IP (the latest without a number), or 404."""
    ip = db.session.get(Ip, ip_id)
    if ip is None or ip.student_id != current_student().id or not ip.versions:
        abort(404)
    if number is None:
        return ip.versions[-1]
    for version in ip.versions:
        if version.number == number:
            return version
    abort(404)


def requested_keys() -> set[str]:
    return set(request.form.getlist("element"))


@bp.get("/")
def index():
    if current_student() is None:
        return redirect(url_for("student.login"))
    return redirect(url_for("student.profile"))


@bp.route("/connexion", methods=["GET", "POST"])
def login():
    if not current_app.config["KIOSK_DEMO_LOGIN"]:
        if cas.is_enabled():
            return redirect(url_for("student.cas_login"))
        return render_template("student/login_unavailable.html"), 503
    form = DemoLoginForm()
    if form.validate_on_submit():
        student = db.session.scalar(select(Student).where(Student.number == form.student_number.data.strip()))
        if student is None:
            form.student_number.errors.append(_("Aucun étudiant de démonstration ne porte ce numéro."))
        else:
            log_in(student, "demo")
            transaction.commit()
            logger.info("Demo login of student %s", student.id)
            return redirect(url_for("student.profile"))
    from ..demo.personas import demo_personas

    return render_template("student/login.html", form=form, personas=demo_personas())


@bp.post("/deconnexion")
def logout():
    used_cas = session.get("login_method") == "cas"
    log_out()
    if used_cas and cas.is_enabled():
        # End the ENT session too, because on a shared kiosk the next person would otherwise be signed in as this student.
        return redirect(cas_logout_url())
    flash(_("Vous êtes déconnecté. Pensez à fermer le navigateur sur un poste partagé."))
    return redirect(url_for("student.login"))


@bp.route("/dossier", methods=["GET", "POST"])
@student_required
def profile():
    student = current_student()
    form = ContactForm(obj=student)
    if form.validate_on_submit():
        if update_contact(student, form.data, actor=student.number):
            transaction.commit()
            flash(_("Vos coordonnées ont été enregistrées."))
        return redirect(url_for("student.registrations"))
    status = 422 if request.method == "POST" else 200
    return render_template("student/profile.html", student=student, form=form), status


@bp.get("/inscriptions")
@student_required
def registrations():
    student = current_student()
    now = clock.utcnow()
    year = clock.current_year()
    rows = []
    for ia in student.ias:
        if ia.year != year:
            continue
        ip = find_ip(ia)
        rows.append({"ia": ia, "ip": ip, "eligibility": check_eligibility(ia, now)})
    return render_template("student/registrations.html", student=student, rows=rows, year=year)


@bp.get("/inscriptions/<int:ia_id>/elements")
@student_required
def elements(ia_id: int):
    ia = get_own_ia(ia_id)
    now = clock.utcnow()
    try:
        context = open_ip(ia, now)
    except IpClosed as closed:
        return render_template("student/closed.html", ia=ia, reasons=closed.messages), 403
    selected = stored_keys(context.ip)
    return render_elements(context, selected, evaluate(context.tree, selected), withdrawn=withdrawn_labels(context))


def render_elements(context, selected, evaluation, problems=None, status=200, show_errors=False, withdrawn=()):
    """Render the element page, or for htmx the tree with the group lists swapped out of band."""
    template = "student/_tree_response.html" if is_htmx() else "student/elements.html"
    offered = offered_collections(context.tree, evaluation.chosen_keys, context.campaign.id, context.ia.student_id)
    return render_template(
        template, context=context, ia=context.ia, ip=context.ip, tree=context.tree,
        selected=evaluation.chosen_keys, evaluation=evaluation, problems=problems or [],
        show_errors=show_errors, offered=offered, group_message=None, withdrawn=withdrawn,
    ), status


@bp.post("/inscriptions/<int:ia_id>/selection")
@student_required
def save_draft(ia_id: int):
    """Save the ticked elements as the draft; htmx gets the tree back with its counters."""
    ia = get_own_ia(ia_id)
    now = clock.utcnow()
    try:
        context = open_ip(ia, now)
        evaluation = save_selection(context, requested_keys(), now)
    except IpClosed as closed:
        db.session.rollback()
        return render_template("student/closed.html", ia=ia, reasons=closed.messages), 403
    except SelectionRejected as rejected:
        db.session.rollback()
        context = open_ip(ia, now)
        selected = stored_keys(context.ip)
        return render_elements(context, selected, evaluate(context.tree, selected), rejected.messages, 422)
    transaction.commit()
    if not is_htmx():
        flash(_("Votre brouillon est enregistré."))
        return redirect(url_for("student.elements", ia_id=ia.id))
    return render_elements(context, evaluation.selected_keys, evaluation)


def _validate(ia_id: int, is_partial: bool):
    ia = get_own_ia(ia_id)
    now = clock.utcnow()
    student = current_student()
    try:
        context = open_ip(ia, now)
        version = validate_ip(
            context, requested_keys(), is_partial, actor=student.number, now_utc=now,
            base_version=request.form.get("base_version", type=int),
        )
        queue_contract_mail(student, version)
    except IpAlreadyValidated as already:
        db.session.rollback()
        if already.version is None:
            abort(409)
        flash(_(
            "Cette inscription avait déjà été validée (version %(number)s), par exemple depuis un autre onglet. "
            "Voici la version enregistrée ; vous pouvez encore la modifier.", number=already.version.number,
        ))
        return redirect(url_for("student.confirmation", ip_id=already.version.ip_id, number=already.version.number))
    except IpClosed as closed:
        db.session.rollback()
        return render_template("student/closed.html", ia=ia, reasons=closed.messages), 403
    except SelectionRejected as rejected:
        db.session.rollback()
        context = open_ip(ia, now)
        selected = stored_keys(context.ip)
        return render_elements(context, selected, evaluate(context.tree, selected), rejected.messages, 422)
    except IpIncomplete as incomplete:
        # Keep what the student ticked as the draft, and show each list's message beside it.
        db.session.rollback()
        context = open_ip(ia, now)
        try:
            evaluation = save_selection(context, requested_keys(), now)
            transaction.commit()
        except SelectionRejected:
            db.session.rollback()
            evaluation = incomplete.evaluation
        return render_elements(context, evaluation.selected_keys, evaluation, incomplete.messages, 422, show_errors=True)
    transaction.commit()
    return redirect(url_for("student.confirmation", ip_id=version.ip_id, number=version.number))


@bp.post("/inscriptions/<int:ia_id>/validation")
@student_required
def validate(ia_id: int):
    return _validate(ia_id, is_partial=False)


@bp.post("/inscriptions/<int:ia_id>/validation-partielle")
@student_required
def validate_partially(ia_id: int):
    return _validate(ia_id, is_partial=True)


def render_groups(ia: Ia, message: str | None = None):
    """Render the group lists of the IA's current draft: a fragment for htmx, else back to the page."""
    now = clock.utcnow()
    try:
        context = open_ip(ia, now)
    except IpClosed as closed:
        return render_template("student/closed.html", ia=ia, reasons=closed.messages), 403
    if not is_htmx():
        if message:
            flash(message)
        return redirect(url_for("student.elements", ia_id=ia.id, _anchor="ip-groups"))
    evaluation = evaluate(context.tree, stored_keys(context.ip))
    offered = offered_collections(context.tree, evaluation.chosen_keys, context.campaign.id, ia.student_id)
    return render_template("student/_groups.html", ia=ia, offered=offered, group_message=message)


def get_offered_group(ia: Ia, collection_id: int, now) -> tuple[object, Group]:
    """Load the requested group if the student may choose it in this collection now, else 404."""
    context = open_ip(ia, now)
    evaluation = evaluate(context.tree, stored_keys(context.ip))
    offered = offered_collections(context.tree, evaluation.chosen_keys, context.campaign.id, ia.student_id)
    item = next((o for o in offered if o.collection.id == collection_id and o.mode == "student"), None)
    group_id = request.form.get("group", type=int)
    group = next((g for g in item.groups if g.id == group_id), None) if item else None
    if group is None:
        abort(404)
    return item, group


@bp.get("/inscriptions/<int:ia_id>/groupes")
@student_required
def groups(ia_id: int):
    return render_groups(get_own_ia(ia_id))


@bp.post("/inscriptions/<int:ia_id>/groupes/<int:collection_id>")
@student_required
def choose_group(ia_id: int, collection_id: int):
    ia = get_own_ia(ia_id)
    now = clock.utcnow()
    try:
        item, group = get_offered_group(ia, collection_id, now)
        place_student(current_student(), group, "student", now)
    except IpClosed as closed:
        db.session.rollback()
        return render_template("student/closed.html", ia=ia, reasons=closed.messages), 403
    except GroupFull:
        db.session.rollback()
        message = _(
            "Groupe complet : %(group)s n'a plus de place. Choisissez un autre groupe%(waitlist)s.",
            group=group.label, waitlist=_(" ou inscrivez-vous sur sa liste d'attente") if item.has_waitlist else "",
        )
        return render_groups(ia, message)
    transaction.commit()
    return render_groups(ia, _("Vous êtes inscrit(e) dans le groupe %(group)s.", group=group.label))


@bp.post("/inscriptions/<int:ia_id>/groupes/<int:collection_id>/attente")
@student_required
def wait_for_group(ia_id: int, collection_id: int):
    ia = get_own_ia(ia_id)
    now = clock.utcnow()
    try:
        item, group = get_offered_group(ia, collection_id, now)
    except IpClosed as closed:
        return render_template("student/closed.html", ia=ia, reasons=closed.messages), 403
    if not item.has_waitlist or group.seats_left > 0:
        abort(404)
    join_waitlist(current_student(), group, now)
    transaction.commit()
    return render_groups(ia, _("Vous êtes sur la liste d'attente du groupe %(group)s : un courriel vous préviendra si une place se libère.", group=group.label))


@bp.get("/contrats/<int:ip_id>/v<int:number>/confirmation")
@student_required
def confirmation(ip_id: int, number: int):
    version = get_own_version(ip_id, number)
    return render_template("student/confirmation.html", version=version, contract=version.contract)


@bp.get("/contrats/<int:ip_id>")
@bp.get("/contrats/<int:ip_id>/v<int:number>")
@student_required
def contract(ip_id: int, number: int | None = None):
    version = get_own_version(ip_id, number)
    return render_template("contract/page.html", version=version, contract=version.contract)


@bp.get("/contrats/<int:ip_id>/v<int:number>.pdf")
@student_required
def contract_pdf(ip_id: int, number: int):
    version = get_own_version(ip_id, number)
    pdf = ensure_contract_pdf(version)
    try:
        transaction.commit()  # keep the PDF rendered on first download
    except OperationalError as error:
        # Storing is only a cache: a busy SQLite file must not cost the student the download.
        db.session.rollback()
        logger.warning("Contract PDF of IP %s version %s not stored: %s", ip_id, number, error)
    return send_file(
        io.BytesIO(pdf),
        mimetype="application/pdf",
        as_attachment=not request.args.get("voir"),
        download_name=attachment_filename(version.contract),
        max_age=0,
    )


@bp.post("/contrats/<int:ip_id>/v<int:number>/envoi")
@student_required
def send_contract(ip_id: int, number: int):
    version = get_own_version(ip_id, number)
    student = current_student()
    queue_contract_mail(student, version)
    transaction.commit()
    flash(_("Le contrat a été envoyé à %(email)s.", email=student.email))
    return redirect(url_for("student.contract", ip_id=ip_id, number=number))


def local_path_or_home(target: str | None) -> str:
    """Return target if it is a path on this site, else the home page (no open redirect)."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return url_for("student.index")


@bp.post("/langue/<locale>")
def set_locale(locale: str):
    """Switch the screens to another language, then go back to the page. A logged-in student keeps it for the mails too."""
    if locale not in current_app.config["LANGUAGES"]:
        abort(404)
    session["locale"] = locale
    student = current_student()
    if student is not None and student.locale != locale:
        student.locale = locale
        transaction.commit()
    return redirect(local_path_or_home(request.form.get("next")))
