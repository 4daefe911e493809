"""Suivi des IP: counts per campaign and VET, validations per day, the student list and its CSV export."""

import csv
import io
import re
from collections.abc import Iterable, Iterator

from babel.numbers import get_decimal_symbol

from flask import Response, abort, g, render_template, request
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from wtforms import Form, IntegerField, SelectField
from wtforms.validators import NumberRange, Optional

from ..extensions import db
from ..models import Campaign
from ..services import clock
from ..services.followup import (
    ELIGIBLE_STATES, STATES, StudentRow, build_chart, campaign_vets, count_by_campaign, count_by_vet,
    count_validations_by_day, iter_students, list_students, make_scope,
)
from ..web import is_htmx
from . import admin_blueprint as bp
from .auth import require_cip, visible_cips

STATE_LABELS = {
    "not_eligible": _l("Non éligible"),
    "not_started": _l("Pas commencée"),
    "draft": _l("Brouillon"),
    "partial": _l("Partielle"),
    "complete": _l("Complète"),
}
SORT_LABELS = {
    "name": _l("Nom"),
    "number": _l("Numéro"),
    "vet": _l("VET"),
    "state": _l("État"),
    "activity": _l("Dernière activité"),
}
PER_PAGE = 50
# A cell that starts with one of these is a formula for a spreadsheet.
FORMULA_PREFIX = re.compile(r"^[=+\-@\t\r]")


class CipFilterForm(Form):
    cip = SelectField(_l("CIP"), default="")


class StudentListForm(Form):
    vet = SelectField(_l("VET"), default="")
    state = SelectField(_l("État"), default="", choices=[("", _l("Tous"))] + list(STATE_LABELS.items()))
    sort = SelectField(_l("Trier par"), default="name", choices=list(SORT_LABELS.items()))
    order = SelectField(_l("Ordre"), default="asc", choices=[("asc", _l("croissant")), ("desc", _l("décroissant"))])
    page = IntegerField(_l("Page"), default=1, validators=[Optional(), NumberRange(min=1)])

    def query_args(self, **changes) -> dict:
        """Return the filters as query-string arguments, with changes applied and empty ones left out."""
        values = {"vet": self.vet.data, "state": self.state.data, "sort": self.sort.data, "order": self.order.data}
        values.update(changes)
        return {name: value for name, value in values.items() if value not in (None, "")}

    def list_arguments(self) -> dict:
        return {
            "state": self.state.data or None,
            "sort": self.sort.data,
            "descending": self.order.data == "desc",
        }


def get_campaign(campaign_id: int) -> Campaign:
    """Load a campaign of a CIP the staff member manages, or 404."""
    campaign = db.session.get(Campaign, campaign_id)
    if campaign is None:
        abort(404)
    require_cip(campaign.cip_id)
    return campaign


def read_list_form(campaign: Campaign) -> tuple[StudentListForm, list]:
    """Read the list filters from the query string, or abort with 400 when one is not among the choices."""
    vets = campaign_vets(campaign)
    form = StudentListForm(request.args)
    form.vet.choices = [("", _("Toutes"))] + [(str(vet.id), f"{vet.full_code} · {vet.label}") for vet in vets]
    if not form.validate():
        abort(400)
    return form, vets


def selected_vet_id(form: StudentListForm) -> int | None:
    return int(form.vet.data) if form.vet.data else None


def percent_format() -> tuple[str, str]:
    """Return the locale's decimal symbol and its "33,3 %" pattern, looked up once per request.

    A dashboard of 1,200 VETs shows 4,800 percentages: Babel's format_decimal and a gettext
    call for each took 0.3 s of the page.
    """
    if "percent_format" not in g:
        g.percent_format = (get_decimal_symbol(str(get_locale())), _("%(number)s %%"))
    return g.percent_format


@bp.app_template_filter("percent_fr")
def percent_filter(value: float | None) -> str:
    """Format a percentage with one decimal in the current locale: 33,3 %."""
    if value is None:
        return "–"
    symbol, pattern = percent_format()
    return pattern % {"number": f"{value:.1f}".replace(".", symbol)}


@bp.app_template_filter("short_datetime_local")
def short_datetime_filter(value_utc) -> str:
    """Format a naive UTC datetime as dd/mm/yyyy HH:MM in the university's time zone."""
    if value_utc is None:
        return ""
    return clock.to_local(value_utc).strftime("%d/%m/%Y %H:%M")


@bp.get("/suivi")
def followup_index():
    cips = visible_cips()
    form = CipFilterForm(request.args)
    form.cip.choices = [("", _("Tous"))] + [(str(cip.id), f"{cip.code} · {cip.label}") for cip in cips]
    if not form.validate():
        abort(400)
    cip_ids = [int(form.cip.data)] if form.cip.data else [cip.id for cip in cips]
    campaigns = list(
        db.session.scalars(
            select(Campaign).where(Campaign.cip_id.in_(cip_ids)).order_by(Campaign.opens_at.desc(), Campaign.code)
        )
    )
    return render_template(
        "admin/followup/index.html", form=form, campaigns=campaigns, counts=count_by_campaign(campaigns),
        now=clock.utcnow(), states=STATES, state_labels=STATE_LABELS,
    )


@bp.get("/suivi/campagnes/<int:campaign_id>")
def followup_campaign(campaign_id: int):
    campaign = get_campaign(campaign_id)
    form, vets = read_list_form(campaign)
    scope = make_scope(campaign, selected_vet_id(form))
    # The list fragment needs the totals only to count its rows: it skips the VETs' counts.
    totals, by_vet = count_by_vet(scope, with_vets=not is_htmx())
    page = list_students(scope, page=form.page.data or 1, per_page=PER_PAGE, totals=totals, **form.list_arguments())
    context = {
        "campaign": campaign, "form": form, "page": page, "state_labels": STATE_LABELS, "sort_labels": SORT_LABELS,
    }
    if is_htmx():
        return render_template("admin/followup/_list.html", **context)

    chart = build_chart(count_validations_by_day(scope))
    return render_template(
        "admin/followup/campaign.html", totals=totals, by_vet=by_vet, chart=chart, vets=vets,
        selected_vet=next((vet for vet in vets if vet.id == scope.vet_id), None),
        states=STATES, eligible_states=ELIGIBLE_STATES, **context,
    )


@bp.get("/suivi/campagnes/<int:campaign_id>/export.csv")
def followup_export(campaign_id: int):
    campaign = get_campaign(campaign_id)
    form, _vets = read_list_form(campaign)
    scope = make_scope(campaign, selected_vet_id(form))
    rows = iter_students(scope, **form.list_arguments())
    filename = f"suivi-ip-{safe_filename_part(campaign.code)}-{clock.local_today():%Y%m%d}.csv"
    # The whole file is built before the response: a streamed body would need the database
    # session after the view returns.
    return Response(
        "".join(generate_csv(rows)).encode("utf-8"),
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Content-Type": "text/csv; charset=utf-8",
        },
    )


def safe_filename_part(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-") or "campagne"


def spreadsheet_cell(value) -> str:
    """Return the value as text that a spreadsheet shows as is, never as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if FORMULA_PREFIX.match(text) else text


def csv_header() -> list[str]:
    return [
        _("Numéro étudiant"), _("Nom"), _("Prénom"), _("Courriel"), _("Code VET"), _("VET"), _("État"),
        _("Dernière activité"), _("Dernière relance"),
    ]


def csv_record(row: StudentRow) -> list[str]:
    last_reminder = row.reminders[-1].created_at if row.reminders else None
    values = [
        row.number, row.last_name, row.first_name, row.email, row.vet_full_code, row.vet_label,
        str(STATE_LABELS[row.state]), short_datetime_filter(row.updated_at), short_datetime_filter(last_reminder),
    ]
    return [spreadsheet_cell(value) for value in values]


def generate_csv(rows: Iterable[StudentRow], chunk_size: int = 65536) -> Iterator[str]:
    """Yield the list as CSV for French Excel: UTF-8 with a BOM, ";" between cells, CRLF line ends."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    buffer.write("\ufeff")
    writer.writerow(csv_header())
    for row in rows:
        writer.writerow(csv_record(row))
        if buffer.tell() >= chunk_size:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
