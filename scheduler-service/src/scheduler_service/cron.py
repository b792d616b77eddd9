"""Cron expressions in a timezone: validation, next fire times, the latest due slot."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadDateError, croniter

# croniter's own aliases and their five-field meaning; anything else must be five fields.
ALIASES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
FIELDS = "minute hour day-of-month month day-of-week"


def validate_cron(expr: str) -> str:
    """Return expr normalised, or raise ValueError saying what is wrong with it."""
    expr = " ".join(expr.split())
    if not expr:
        raise ValueError("is empty")
    if expr.startswith("@"):
        if expr not in ALIASES:
            raise ValueError(f"unknown alias {expr!r} (known: {', '.join(sorted(ALIASES))})")
    elif len(expr.split(" ")) != 5:
        # croniter would read a sixth field as seconds; schedules fire per minute.
        raise ValueError(f"must have 5 fields ({FIELDS}), got {len(expr.split(' '))}")
    if not croniter.is_valid(expr):
        raise ValueError(f"{expr!r} is not a valid cron expression ({FIELDS}; e.g. 61 is no minute)")
    try:
        croniter(expr, datetime(2000, 1, 1, tzinfo=UTC)).get_next(datetime)
    except CroniterBadDateError:
        raise ValueError(f"{expr!r} never fires") from None
    return expr


def five_fields(expr: str) -> str:
    """The five-field form of a valid expression (aliases expanded), for Celery's crontab."""
    return ALIASES.get(expr, expr)


def validate_timezone(name: str) -> str:
    """Return name if it is an IANA timezone, else raise ValueError."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown timezone {name!r} (use an IANA name such as Europe/Berlin or UTC)") from None
    return name


def next_fire_times(expr: str, tz: str, now: datetime, count: int = 5) -> list[datetime]:
    """The next count fire times after now, computed in tz, returned in UTC."""
    it = croniter(expr, now.astimezone(ZoneInfo(tz)))
    return [it.get_next(datetime).astimezone(UTC) for _ in range(count)]


def latest_slot(expr: str, tz: str, now: datetime) -> datetime:
    """The most recent fire time at or before now, in UTC."""
    local_now = now.astimezone(ZoneInfo(tz))
    if croniter.match(expr, local_now.replace(second=0, microsecond=0)):
        return local_now.replace(second=0, microsecond=0).astimezone(UTC)
    return croniter(expr, local_now).get_prev(datetime).astimezone(UTC)
