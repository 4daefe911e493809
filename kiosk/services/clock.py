"""Time in one place: the database stores naive UTC, the university lives in Europe/Paris."""

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

from flask import current_app


def utcnow() -> datetime:
    """Return the current time as naive UTC. Tests replace this function to move the clock."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def local_zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["KIOSK_TIMEZONE"])


def to_local(moment_utc: datetime) -> datetime:
    """Convert a naive UTC datetime to the university's local time (aware)."""
    return moment_utc.replace(tzinfo=timezone.utc).astimezone(local_zone())


def local_to_utc(moment_local: datetime) -> datetime:
    """Convert a naive local datetime (as staff type it) to naive UTC."""
    aware = moment_local.replace(tzinfo=local_zone())
    return aware.astimezone(timezone.utc).replace(tzinfo=None)


def local_today() -> date:
    return to_local(utcnow()).date()


def current_year() -> int:
    """Return the academic year in force, as the year it starts in (2026 for 2026-2027)."""
    configured = current_app.config["KIOSK_ACADEMIC_YEAR"]
    if configured is not None:
        return int(configured)
    today = local_today()
    start_month = current_app.config["KIOSK_YEAR_START_MONTH"]
    return today.year if today.month >= start_month else today.year - 1


def year_label(year: int) -> str:
    return f"{year}-{year + 1}"
