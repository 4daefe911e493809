"""Suivi des IP: how far the students of a campaign are, counted in SQL.

The population of a campaign is the IAs of the academic year on the VETs the campaign is
initialised on, except cancelled (A) and terminated (R) IAs. Each IA has one state:

- not_eligible: the IA is not "en règle" (state E and payment P) or the student is under an
  active block that forbids registration;
- not_started: eligible, and no IP exists for the student, year and VET;
- draft, partial, complete: eligible, and the status of that IP.

A student with IAs on two VETs of the campaign counts once per VET. Each function runs a fixed
number of queries, whatever the number of students.
"""

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import and_, case, func, literal, not_, or_, select
from sqlalchemy.sql import ColumnElement, Select

from ..extensions import db
from ..models import (
    Block, BlockCode, Campaign, CampaignVet, Ia, Ip, IpVersion, ReminderAction, ReminderSent, Student, Vet,
)
from . import clock

STATES = ("not_eligible", "not_started", "draft", "partial", "complete")
ELIGIBLE_STATES = ("not_started", "draft", "partial", "complete")
UNFINISHED_STATES = ("not_started", "draft", "partial")
EXCLUDED_IA_STATES = ("A", "R")

SORT_KEYS = ("name", "number", "vet", "state", "activity")


@dataclass(frozen=True)
class Scope:
    """A campaign, optionally narrowed to one of its VETs, seen on a given Paris date."""

    campaign: Campaign
    year: int
    today: date
    vet_id: int | None = None


@dataclass
class StateCounts:
    counts: Counter = field(default_factory=Counter)

    def __getitem__(self, state: str) -> int:
        return self.counts[state]

    @property
    def total(self) -> int:
        return sum(self.counts[state] for state in STATES)

    @property
    def eligible(self) -> int:
        return sum(self.counts[state] for state in ELIGIBLE_STATES)

    @property
    def unfinished(self) -> int:
        return sum(self.counts[state] for state in UNFINISHED_STATES)

    def percent(self, state: str) -> float | None:
        """Return the share of eligible IAs in this state, in percent, or None when no IA is eligible."""
        if not self.eligible:
            return None
        return 100 * self.counts[state] / self.eligible


@dataclass
class VetCounts:
    vet: Vet
    counts: StateCounts


@dataclass
class DayCount:
    day: date  # Europe/Paris
    complete: int = 0
    partial: int = 0

    @property
    def total(self) -> int:
        return self.complete + self.partial


@dataclass
class StudentRow:
    student_id: int
    number: str
    last_name: str
    first_name: str
    email: str
    vet_id: int
    vet_code: str
    vet_version: str
    vet_label: str
    state: str
    updated_at: datetime | None  # the IP's last change in naive UTC, or None when no IP exists
    reminders: list["ReminderNote"] = field(default_factory=list)

    @property
    def vet_full_code(self) -> str:
        return f"{self.vet_code}/{self.vet_version}"


@dataclass
class ReminderNote:
    """A reminder a student got: when (naive UTC), from whom, and whether the schedule sent it."""

    created_at: datetime
    author: str
    is_scheduled: bool


@dataclass
class StudentPage:
    rows: list[StudentRow]
    total: int
    page: int
    per_page: int

    @property
    def page_count(self) -> int:
        return max(1, -(-self.total // self.per_page))


def make_scope(campaign: Campaign, vet_id: int | None = None) -> Scope:
    return Scope(campaign=campaign, year=clock.current_year(), today=clock.local_today(), vet_id=vet_id)


def is_blocked(today: date) -> ColumnElement[bool]:
    """Whether the IA's student is under a block that forbids registration on that day.

    NOTE: a correlated EXISTS probes the block index once per IA. A LEFT JOIN to the set of
    blocked students was faster in SQLite, but PostgreSQL's generic plan for a statement that
    psycopg prepares (from its fifth run on a connection) scanned that set once per IA, which
    took 10 s on 60,000 students.
    """
    return (
        select(Block.id)
        .join(BlockCode, BlockCode.code == Block.code)
        .where(
            Block.student_id == Ia.student_id,
            BlockCode.forbids_registration.is_(True),
            Block.starts_on <= today,
            or_(Block.ends_on.is_(None), Block.ends_on >= today),
        )
        .exists()
    )


def state_expression(today: date) -> ColumnElement[str]:
    """Return the state of a population row; see the module docstring."""
    is_eligible = and_(Ia.state == "E", Ia.payment_state == "P", not_(is_blocked(today)))
    return case(
        (not_(is_eligible), literal("not_eligible")),
        (Ip.id.is_(None), literal("not_started")),
        else_=Ip.status,
    )


def population(query: Select, year: int, campaign_ids: list[int], vet_id: int | None = None) -> Select:
    """Join the campaigns' IAs, their VET and their IP (if any) to query.

    See the module docstring for which IAs are included.
    """
    query = (
        query.select_from(Ia)
        .join(CampaignVet, and_(CampaignVet.vet_id == Ia.vet_id, CampaignVet.campaign_id.in_(campaign_ids)))
        .join(Campaign, Campaign.id == CampaignVet.campaign_id)
        .join(Vet, and_(Vet.id == Ia.vet_id, Vet.cip_id == Campaign.cip_id))
        .outerjoin(Ip, and_(Ip.student_id == Ia.student_id, Ip.year == Ia.year, Ip.vet_id == Ia.vet_id))
        .where(Ia.year == year, Ia.state.not_in(EXCLUDED_IA_STATES))
    )
    if vet_id is not None:
        query = query.where(Ia.vet_id == vet_id)
    return query


def count_by_campaign(campaigns: list[Campaign]) -> dict[int, StateCounts]:
    """Count the states of every listed campaign's population, in one query."""
    result = {campaign.id: StateCounts() for campaign in campaigns}
    if not campaigns:
        return result
    state = state_expression(clock.local_today()).label("state")
    rows = population(select(CampaignVet.campaign_id, state), clock.current_year(), list(result)).subquery()
    query = select(rows.c.campaign_id, rows.c.state, func.count()).group_by(rows.c.campaign_id, rows.c.state)
    for campaign_id, state_value, count in db.session.execute(query):
        result[campaign_id].counts[state_value] += count
    return result


def count_by_vet(scope: Scope, with_vets: bool = True) -> tuple[StateCounts, list[VetCounts]]:
    """Count the states of the scope, in total and for each VET of the campaign.

    One query groups the IAs, and a second loads the VETs unless with_vets is False (the list
    of VET counts is then empty).
    """
    # Grouping the rows of a subquery computes each row's state once, not again for GROUP BY.
    state = state_expression(scope.today).label("state")
    rows = population(select(Ia.vet_id, state), scope.year, [scope.campaign.id], scope.vet_id).subquery()
    query = select(rows.c.vet_id, rows.c.state, func.count()).group_by(rows.c.vet_id, rows.c.state)
    by_vet: dict[int, StateCounts] = {}
    total = StateCounts()
    for vet_id, state_value, count in db.session.execute(query):
        by_vet.setdefault(vet_id, StateCounts()).counts[state_value] += count
        total.counts[state_value] += count

    if not with_vets:
        return total, []
    vets = campaign_vets(scope.campaign)
    if scope.vet_id is not None:
        vets = [vet for vet in vets if vet.id == scope.vet_id]
    return total, [VetCounts(vet, by_vet.get(vet.id, StateCounts())) for vet in vets]


def campaign_vets(campaign: Campaign) -> list[Vet]:
    """Return the VETs of the campaign's CIP that the campaign is initialised on, by code."""
    return list(
        db.session.scalars(
            select(Vet)
            .join(CampaignVet, CampaignVet.vet_id == Vet.id)
            .where(CampaignVet.campaign_id == campaign.id, Vet.cip_id == campaign.cip_id)
            .order_by(Vet.code, Vet.version)
        )
    )


def hour_bucket(column: ColumnElement[datetime]) -> ColumnElement[str]:
    """Truncate a naive UTC datetime column to the hour, as text "YYYY-MM-DD HH".

    Paris is a whole number of hours from UTC, so an hour of UTC falls on one Paris date. Grouping
    by hour in SQL then by Paris date in Python keeps the query portable and its result small.
    """
    if db.session.get_bind().dialect.name == "postgresql":
        return func.to_char(column, "YYYY-MM-DD HH24")
    return func.strftime("%Y-%m-%d %H", column)


def count_validations_by_day(scope: Scope) -> list[DayCount]:
    """Count validations (contract versions) per Paris day, from the campaign's opening to its closing.

    Every validation counts, the second version of a contract too, whether or not the student
    is eligible today.
    """
    campaign = scope.campaign
    bucket = hour_bucket(IpVersion.validated_at).label("hour")
    query = (
        select(bucket, IpVersion.status, func.count())
        .join(Ip, Ip.id == IpVersion.ip_id)
        .join(CampaignVet, and_(CampaignVet.vet_id == Ip.vet_id, CampaignVet.campaign_id == campaign.id))
        .where(
            Ip.year == scope.year,
            IpVersion.validated_at >= campaign.opens_at,
            IpVersion.validated_at < campaign.closes_at,
        )
        .group_by(bucket, IpVersion.status)
    )
    if scope.vet_id is not None:
        query = query.where(Ip.vet_id == scope.vet_id)

    first_day = clock.to_local(campaign.opens_at).date()
    last_day = clock.to_local(campaign.closes_at - timedelta(microseconds=1)).date()
    days = {
        first_day + timedelta(days=offset): DayCount(first_day + timedelta(days=offset))
        for offset in range((last_day - first_day).days + 1)
    }
    for hour_text, status, count in db.session.execute(query):
        day = clock.to_local(datetime.strptime(hour_text, "%Y-%m-%d %H")).date()
        if status == "complete":
            days[day].complete += count
        else:
            days[day].partial += count
    return list(days.values())


def student_rows_query(scope: Scope, state: str | None, sort: str, descending: bool) -> Select:
    """Select the scope's IAs as StudentRow fields, filtered by state and sorted by a key of SORT_KEYS."""
    state_column = state_expression(scope.today)
    columns = select(
        Student.id, Student.number, Student.last_name, Student.first_name, Student.email,
        Vet.id, Vet.code, Vet.version, Vet.label, state_column, Ip.updated_at,
    )
    query = population(columns, scope.year, [scope.campaign.id], scope.vet_id).join(
        Student, Student.id == Ia.student_id
    )
    if state is not None:
        query = query.where(state_column == state)
    return query.order_by(*sort_order(sort, descending, state_column))


def sort_order(sort: str, descending: bool, state_column: ColumnElement[str]) -> list:
    """Return the ORDER BY terms of a sort key, with the student's name, number and VET to break ties."""
    name = [Student.last_name, Student.first_name, Student.number]
    state_rank = case({value: rank for rank, value in enumerate(STATES)}, value=state_column)
    primary = {
        "name": name,
        "number": [Student.number],
        "vet": [Vet.code, Vet.version],
        "state": [state_rank],
        "activity": [Ip.updated_at],
    }[sort]
    if descending:
        primary = [key.desc() for key in primary]
    if sort == "activity":
        primary = [key.nulls_last() for key in primary]  # students who never started come last
    return primary + name + [Vet.code, Vet.version]


def list_students(
    scope: Scope, state: str | None = None, sort: str = "name", descending: bool = False,
    page: int = 1, per_page: int = 50, totals: StateCounts | None = None,
) -> StudentPage:
    """Return one page of the scope's IAs with their state, last activity and reminders.

    totals, the scope's counts from count_by_vet, saves the query that counts the list's rows.
    """
    if totals is None:
        totals, _by_vet = count_by_vet(scope, with_vets=False)
    total = totals[state] if state is not None else totals.total
    query = student_rows_query(scope, state, sort, descending)
    page = min(max(page, 1), max(1, -(-total // per_page)))
    rows = [StudentRow(*values) for values in db.session.execute(query.limit(per_page).offset((page - 1) * per_page))]
    attach_reminders(rows, scope.campaign.id)
    return StudentPage(rows=rows, total=total, page=page, per_page=per_page)


def iter_students(
    scope: Scope, state: str | None = None, sort: str = "name", descending: bool = False,
) -> Iterator[StudentRow]:
    """Yield every IA of the scope, as list_students sorts them, with the student's last reminder."""
    last_reminders = last_reminder_by_student(scope.campaign.id)
    query = student_rows_query(scope, state, sort, descending)
    for values in db.session.execute(query.execution_options(yield_per=2000)):
        row = StudentRow(*values)
        if row.student_id in last_reminders:
            row.reminders = [last_reminders[row.student_id]]
        yield row


def attach_reminders(rows: list[StudentRow], campaign_id: int) -> None:
    """Fill each row's reminders in this campaign, oldest first, in one query."""
    student_ids = {row.student_id for row in rows}
    if not student_ids:
        return
    query = (
        select(ReminderSent.student_id, ReminderAction.created_at, ReminderAction.author, ReminderAction.is_scheduled)
        .join(ReminderAction, ReminderAction.id == ReminderSent.action_id)
        .where(ReminderAction.campaign_id == campaign_id, ReminderSent.student_id.in_(student_ids))
        .order_by(ReminderAction.created_at, ReminderAction.id)
    )
    notes: dict[int, list[ReminderNote]] = {}
    for student_id, created_at, author, is_scheduled in db.session.execute(query):
        notes.setdefault(student_id, []).append(ReminderNote(created_at, author, is_scheduled))
    for row in rows:
        row.reminders = notes.get(row.student_id, [])


def last_reminder_by_student(campaign_id: int) -> dict[int, ReminderNote]:
    """Return each student's latest reminder in the campaign, in one query."""
    query = (
        select(ReminderSent.student_id, ReminderAction.created_at, ReminderAction.author, ReminderAction.is_scheduled)
        .join(ReminderAction, ReminderAction.id == ReminderSent.action_id)
        .where(ReminderAction.campaign_id == campaign_id)
        .order_by(ReminderAction.created_at, ReminderAction.id)
    )
    return {student_id: ReminderNote(*note) for student_id, *note in db.session.execute(query)}


@dataclass
class ChartBar:
    day_count: DayCount
    x: float
    width: float
    complete_y: float
    complete_height: float
    partial_y: float
    partial_height: float


@dataclass
class Chart:
    """Geometry of the validations-per-day bar chart, in SVG user units."""

    width: int
    height: int
    plot_left: int
    plot_top: int
    plot_width: int
    plot_height: int
    y_max: int
    bars: list[ChartBar]
    y_ticks: list[tuple[float, int]]  # (y, value)
    x_ticks: list[tuple[float, date]]  # (x of the bar's centre, day)

    @property
    def plot_bottom(self) -> int:
        return self.plot_top + self.plot_height


def round_up_nicely(value: int) -> int:
    """Return the smallest of 1, 2, 5, 10, 20, 50… that is at least value (and at least 1)."""
    scale = 1
    while True:
        for step in (1, 2, 5):
            if step * scale >= value:
                return step * scale
        scale *= 10


def build_chart(days: list[DayCount], width: int = 720, height: int = 220, x_tick_count: int = 8) -> Chart:
    """Lay out one stacked bar a day (complete below, partial above) and the axis ticks."""
    left, top, right, bottom = 44, 10, 10, 28
    plot_width, plot_height = width - left - right, height - top - bottom
    y_max = round_up_nicely(max((day.total for day in days), default=0))
    step = plot_width / max(len(days), 1)
    bar_width = max(step * 0.8, 1.0)

    bars = []
    for index, day in enumerate(days):
        complete_height = plot_height * day.complete / y_max
        partial_height = plot_height * day.partial / y_max
        complete_y = top + plot_height - complete_height
        bars.append(ChartBar(
            day_count=day, x=left + index * step + (step - bar_width) / 2, width=bar_width,
            complete_y=complete_y, complete_height=complete_height,
            partial_y=complete_y - partial_height, partial_height=partial_height,
        ))

    y_ticks = [(top + plot_height * (1 - fraction), round(y_max * fraction)) for fraction in (0, 0.5, 1)]
    if y_max == 1:
        y_ticks = [y_ticks[0], y_ticks[2]]  # no half-validation tick
    every = max(1, -(-len(days) // x_tick_count))
    x_ticks = [(bar.x + bar.width / 2, bar.day_count.day) for bar in bars[::every]]
    return Chart(width, height, left, top, plot_width, plot_height, y_max, bars, y_ticks, x_ticks)
