"""Suivi des IP: every figure of the dashboard against a known cohort, the list, its CSV and access."""

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import event

from kiosk.extensions import db
from kiosk.models import Block, BlockCode, Cip, ReminderAction, ReminderSent, Vet
from kiosk.services.followup import (
    build_chart, count_by_campaign, count_by_vet, count_validations_by_day, list_students, make_scope,
)

from .factories import YEAR, assign_campaign, make_ia, make_ip, make_staff, make_student
from .helpers import log_in_staff

DAY = timedelta(days=1)


@dataclass
class Cohort:
    """The world's campaign on TESTVET and a second VET, with students in every state."""

    world: object
    second_vet: Vet
    numbers: dict[str, str]  # role -> student number


def build_cohort(world, now: datetime) -> Cohort:
    """Populate the world's campaign; the expected figures are in EXPECTED_TOTALS and EXPECTED_BY_VET.

    TESTVET: Zoé and "fresh" not started, "drafter" draft, "halfway" partial, "done" complete,
    "unpaid" awaiting payment, "blocked" under a forbidding block, "creating" in state C,
    "cancelled" excluded (state A). "old_block" (expired block) and "library" (a block that does
    not forbid the IP) are eligible and not started. VET2: "done2" complete, "drafter2" draft.
    Outside the campaign: an IA on a VET it is not initialised on, and an IA of the previous year.
    """
    vet2 = Vet(code="VET2", version="1", label="Licence de test, 2e année", cip_id=world.cip.id)
    outside = Vet(code="HORS", version="1", label="Hors campagne", cip_id=world.cip.id)
    db.session.add_all([vet2, outside])
    db.session.flush()
    assign_campaign(world.campaign, vet2)
    db.session.add_all([
        BlockCode(code="BIP", label="Interdit d'inscription", forbids_registration=True),
        BlockCode(code="BIB", label="Ouvrages non rendus", forbids_registration=False),
    ])

    numbers = {"zoe": world.student.number}

    def student(role: str, vet: Vet, **ia_fields):
        created = make_student(f"2261{len(numbers):04d}", role.capitalize(), f"Nom-{role}")
        numbers[role] = created.number
        make_ia(created, vet, **ia_fields)
        return created

    student("fresh", world.vet)
    make_ip(student("drafter", world.vet), world.vet, "draft", now - 2 * DAY)
    make_ip(student("halfway", world.vet), world.vet, "partial", now - DAY, [now - DAY])
    make_ip(student("done", world.vet), world.vet, "complete", now - 3 * DAY, [now - 5 * DAY, now - 3 * DAY])
    student("unpaid", world.vet, payment_state="A")
    blocked = student("blocked", world.vet)
    db.session.add(Block(student_id=blocked.id, code="BIP", starts_on=date(2026, 9, 1), ends_on=None))
    student("creating", world.vet, state="C")
    make_ip(student("cancelled", world.vet, state="A"), world.vet, "complete", now - DAY, [now - DAY])
    old_block = student("old_block", world.vet)
    db.session.add(Block(student_id=old_block.id, code="BIP", starts_on=date(2026, 9, 1), ends_on=date(2026, 11, 1)))
    library = student("library", world.vet)
    db.session.add(Block(student_id=library.id, code="BIB", starts_on=date(2026, 9, 1), ends_on=None))
    make_ip(student("done2", vet2), vet2, "complete", now - DAY, [now - DAY])
    make_ip(student("drafter2", vet2), vet2, "draft", now - DAY)
    student("elsewhere", outside)
    student("last_year", world.vet, year=YEAR - 1)
    db.session.flush()
    return Cohort(world=world, second_vet=vet2, numbers=numbers)


EXPECTED_TOTALS = {"not_eligible": 3, "not_started": 4, "draft": 2, "partial": 1, "complete": 2}
EXPECTED_BY_VET = {
    "TESTVET": {"not_eligible": 3, "not_started": 4, "draft": 1, "partial": 1, "complete": 1},
    "VET2": {"not_eligible": 0, "not_started": 0, "draft": 1, "partial": 0, "complete": 1},
}
EXPECTED_PERCENTS = {"not_started": "44,4 %", "draft": "22,2 %", "partial": "11,1 %", "complete": "22,2 %"}


@pytest.fixture
def cohort(world, clock):
    built = build_cohort(world, clock.now)
    db.session.commit()
    return built


@pytest.fixture
def staff_client(client, cohort):
    make_staff("agnes", [cohort.world.cip])
    db.session.commit()
    log_in_staff(client, "agnes")
    return client


def dashboard_url(cohort, suffix: str = "", **args) -> str:
    query = "&".join(f"{name}={value}" for name, value in args.items())
    return f"/gestion/suivi/campagnes/{cohort.world.campaign.id}{suffix}" + (f"?{query}" if query else "")


def export_url(cohort, **args) -> str:
    return dashboard_url(cohort, "/export.csv", **args)


def cell(page: str, table_id: str, attribute: str, state: str) -> str:
    """Return the text of the cell with attribute="state" in the table with that id."""
    table = re.search(rf'<table[^>]*id="{table_id}".*?</table>', page, re.S).group(0)
    return re.search(rf'{attribute}="{state}">([^<]*)<', table).group(1).strip()


@pytest.mark.parametrize("state", list(EXPECTED_TOTALS))
def test_totals_by_state(cohort, state):
    totals, _by_vet = count_by_vet(make_scope(cohort.world.campaign))
    assert totals[state] == EXPECTED_TOTALS[state]


def test_totals_eligible(cohort):
    totals, _by_vet = count_by_vet(make_scope(cohort.world.campaign))
    assert totals.eligible == 9


@pytest.mark.parametrize("vet_code", list(EXPECTED_BY_VET))
def test_counts_by_vet(cohort, vet_code):
    _totals, by_vet = count_by_vet(make_scope(cohort.world.campaign))
    counts = next(item.counts for item in by_vet if item.vet.code == vet_code)
    assert dict(counts.counts) == {state: n for state, n in EXPECTED_BY_VET[vet_code].items() if n}


def test_vet_filter_narrows_totals(cohort):
    totals, by_vet = count_by_vet(make_scope(cohort.world.campaign, cohort.second_vet.id))
    assert totals.eligible == 2
    assert [item.vet.code for item in by_vet] == ["VET2"]


def test_percentages(cohort):
    totals, _by_vet = count_by_vet(make_scope(cohort.world.campaign))
    assert round(totals.percent("not_started"), 1) == 44.4
    assert round(totals.percent("complete"), 1) == 22.2


def test_percentage_without_eligible(world):
    db.session.delete(world.ia)
    db.session.flush()
    totals, _by_vet = count_by_vet(make_scope(world.campaign))
    assert totals.percent("complete") is None


def test_count_by_campaign(cohort):
    counts = count_by_campaign([cohort.world.campaign])[cohort.world.campaign.id]
    assert dict(counts.counts) == EXPECTED_TOTALS


@pytest.mark.parametrize("state", list(EXPECTED_TOTALS))
def test_page_shows_count(staff_client, cohort, state):
    page = staff_client.get(dashboard_url(cohort)).get_data(as_text=True)
    assert cell(page, "totals", "data-state", state) == str(EXPECTED_TOTALS[state])


@pytest.mark.parametrize("state", list(EXPECTED_PERCENTS))
def test_page_shows_percentage(staff_client, cohort, state):
    page = staff_client.get(dashboard_url(cohort)).get_data(as_text=True)
    assert cell(page, "totals", "data-percent", state) == EXPECTED_PERCENTS[state]


def test_page_shows_eligible(staff_client, cohort):
    page = staff_client.get(dashboard_url(cohort)).get_data(as_text=True)
    assert cell(page, "totals", "data-state", "eligible") == "9"


def test_overview_lists_campaign(staff_client, cohort):
    page = staff_client.get("/gestion/suivi").get_data(as_text=True)
    assert "L01-2026" in page
    assert "44,4 %" in page


def test_validations_by_day(cohort, clock):
    # 23:30 UTC on 1 December is 00:30 on 2 December in Paris.
    late = datetime(2026, 12, 1, 23, 30)
    student = make_student("22619999", "Tard", "Nom-tard")
    make_ia(student, cohort.world.vet)
    make_ip(student, cohort.world.vet, "partial", late, [late])
    days = {day.day: day for day in count_validations_by_day(make_scope(cohort.world.campaign))}
    assert days[date(2026, 12, 2)].partial == 1
    assert days[date(2026, 12, 1)].partial == 0


def test_validations_count_every_version(cohort, clock):
    days = count_validations_by_day(make_scope(cohort.world.campaign))
    # done: 2 versions; halfway, done2, cancelled: 1 each. Versions of IPs outside the window don't count.
    assert sum(day.total for day in days) == 5


def test_validations_span_campaign(cohort):
    days = count_validations_by_day(make_scope(cohort.world.campaign))
    assert days[0].day == date(2026, 11, 24)
    assert days[-1].day == date(2026, 12, 24)


def test_chart_scale(cohort):
    chart = build_chart(count_validations_by_day(make_scope(cohort.world.campaign)))
    assert chart.y_max == 5  # the busiest day has 3 validations


def test_chart_bar_heights(cohort, clock):
    chart = build_chart(count_validations_by_day(make_scope(cohort.world.campaign)))
    bar = next(bar for bar in chart.bars if bar.day_count.day == (clock.now - DAY).date())
    assert bar.complete_height == pytest.approx(chart.plot_height * 2 / 5)
    assert bar.partial_height == pytest.approx(chart.plot_height * 1 / 5)


def test_chart_text_alternative(staff_client, cohort, clock):
    page = staff_client.get(dashboard_url(cohort)).get_data(as_text=True)
    table = re.search(r'<table[^>]*id="validations-by-day".*?</table>', page, re.S).group(0)
    day = (clock.now - DAY).strftime("%d/%m/%Y")
    # halfway (partial), done2 and cancelled (complete) validated the day before.
    row = re.search(rf"<th scope=\"row\">{day}</th>(.*?)</tr>", table).group(1)
    assert re.findall(r">(\d+)<", row) == ["2", "1", "3"]


def test_chart_has_description(staff_client, cohort):
    page = staff_client.get(dashboard_url(cohort)).get_data(as_text=True)
    assert re.search(r"<desc[^>]*>5 validation\(s\) en tout, dont 4 complète\(s\) et 1 partielle\(s\)", page)


def test_list_filter_by_state(cohort):
    page = list_students(make_scope(cohort.world.campaign), state="draft")
    assert sorted(row.number for row in page.rows) == sorted([cohort.numbers["drafter"], cohort.numbers["drafter2"]])


def test_list_sorted_by_name(cohort):
    page = list_students(make_scope(cohort.world.campaign))
    names = [row.last_name for row in page.rows]
    assert names == sorted(names)


def test_list_sorted_by_activity(cohort):
    page = list_students(make_scope(cohort.world.campaign), sort="activity", descending=True)
    moments = [row.updated_at for row in page.rows]
    started = [moment for moment in moments if moment is not None]
    assert started == sorted(started, reverse=True)
    assert moments[len(started):] == [None] * (len(moments) - len(started))


def test_list_pagination(cohort):
    first = list_students(make_scope(cohort.world.campaign), page=1, per_page=5)
    last = list_students(make_scope(cohort.world.campaign), page=3, per_page=5)
    assert first.total == 12
    assert first.page_count == 3
    assert len(last.rows) == 2


def test_list_page_beyond_end(cohort):
    page = list_students(make_scope(cohort.world.campaign), page=99, per_page=5)
    assert page.page == 3


def test_list_shows_reminder(staff_client, cohort, clock):
    staff = make_staff("bruno", [cohort.world.cip])
    action = ReminderAction(
        token="t" * 20, campaign_id=cohort.world.campaign.id, author=staff.login, created_at=clock.now,
    )
    db.session.add(action)
    db.session.flush()
    db.session.add(ReminderSent(action_id=action.id, student_id=cohort.world.student.id, kind="not_started"))
    db.session.commit()
    page = staff_client.get(dashboard_url(cohort, state="not_started")).get_data(as_text=True)
    assert "04/12/2026 11:00 par bruno" in page


def test_list_htmx_fragment(staff_client, cohort):
    response = staff_client.get(dashboard_url(cohort, state="complete"), headers={"HX-Request": "true"})
    page = response.get_data(as_text=True)
    assert page.lstrip().startswith('<section class="panel" id="student-list"')
    assert "Nom-done" in page


def test_unknown_state_rejected(staff_client, cohort):
    assert staff_client.get(dashboard_url(cohort, state="lost")).status_code == 400


def test_vet_outside_campaign_rejected(staff_client, cohort):
    other = db.session.query(Vet).filter_by(code="HORS").one()
    assert staff_client.get(dashboard_url(cohort, vet=other.id)).status_code == 400


def test_csv_export_format(staff_client, cohort):
    response = staff_client.get(export_url(cohort, state="draft"))
    body = response.get_data()
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert body.startswith(b"\xef\xbb\xbf")
    lines = body.decode("utf-8-sig").split("\r\n")
    assert lines[0].split(";")[:3] == ["Numéro étudiant", "Nom", "Prénom"]
    assert len(lines) == 4  # header, two rows, and the empty string after the last CRLF


def test_csv_export_dates(staff_client, cohort, clock):
    response = staff_client.get(export_url(cohort, state="partial"))
    row = response.get_data().decode("utf-8-sig").split("\r\n")[1].split(";")
    # halfway's IP changed a day before TEST_NOW (10:00 UTC), at 11:00 in Paris.
    assert row[7] == "03/12/2026 11:00"


def test_csv_escapes_formula(staff_client, cohort):
    student = make_student("22618888", "=HYPERLINK(1)", "Nom-formule")
    make_ia(student, cohort.world.vet)
    db.session.commit()
    response = staff_client.get(export_url(cohort))
    assert ";'=HYPERLINK(1);" in response.get_data().decode("utf-8-sig")


def test_other_cip_not_found(client, cohort):
    other = Cip(code="S02", label="UFR Sciences", is_web_open=True)
    db.session.add(other)
    make_staff("sami", [other])
    db.session.commit()
    log_in_staff(client, "sami")
    assert client.get(dashboard_url(cohort)).status_code == 404


def test_other_cip_export_not_found(client, cohort):
    other = Cip(code="S02", label="UFR Sciences", is_web_open=True)
    db.session.add(other)
    make_staff("sami", [other])
    db.session.commit()
    log_in_staff(client, "sami")
    assert client.get(export_url(cohort)).status_code == 404


def test_overview_hides_other_cips(client, cohort):
    other = Cip(code="S02", label="UFR Sciences", is_web_open=True)
    db.session.add(other)
    make_staff("sami", [other])
    db.session.commit()
    log_in_staff(client, "sami")
    assert "L01-2026" not in client.get("/gestion/suivi").get_data(as_text=True)


class QueryCounter:
    def __init__(self):
        self.count = 0

    def __call__(self, *args):
        self.count += 1


def count_queries(function) -> int:
    counter = QueryCounter()
    event.listen(db.engine, "before_cursor_execute", counter)
    try:
        function()
    finally:
        event.remove(db.engine, "before_cursor_execute", counter)
    return counter.count


def run_dashboard_services(campaign) -> None:
    scope = make_scope(campaign)
    count_by_vet(scope)
    count_validations_by_day(scope)
    list_students(scope)


def test_query_count_is_fixed(cohort, clock):
    campaign = cohort.world.campaign
    run_dashboard_services(campaign)  # loads the campaign's relationships once
    small = count_queries(lambda: run_dashboard_services(campaign))
    for index in range(40):
        student = make_student(f"2262{index:04d}", "Plus", f"Nom-plus-{index}")
        make_ia(student, cohort.world.vet if index % 2 else cohort.second_vet)
        if index % 3 == 0:
            make_ip(student, cohort.world.vet if index % 2 else cohort.second_vet, "complete", clock.now, [clock.now])
    db.session.flush()
    large = count_queries(lambda: run_dashboard_services(campaign))
    assert large == small
