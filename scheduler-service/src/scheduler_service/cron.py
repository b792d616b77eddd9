"""Cron expressions in a timezone: validation, next fire times, the latest due slot.

A cron expression names slots on the zone's wall clock, and each slot fires at most once,
whatever daylight saving time does to the clock:

- a time the clock shows twice (the hour repeated when it falls back) fires at its first
  occurrence, e.g. `30 2 * * *` in Europe/Berlin on the last Sunday of October fires at
  02:30 summer time (00:30 UTC) and not again at 02:30 winter time;
- a time the clock skips (the hour lost when it springs forward) fires once, at the first
  minute after the gap: 02:30 in Berlin on the last Sunday of March fires at 03:00. The
  slots of one gap, and a slot at that first minute itself, make that one firing.

croniter finds the slots on the plain calendar; fire_time places each slot on the timeline.
croniter's own zone handling fires the repeated hour twice (scheduler-service/tests/test_cron.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
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


def wall_clock_slots(expr: str, start: datetime, *, backwards: bool = False) -> Iterator[datetime]:
    """The slots strictly after (or before) start, as naive wall-clock times, nearest first."""
    # In UTC croniter walks the plain calendar: no offset ever changes, so no hour repeats or goes missing.
    it = croniter(expr, start.replace(tzinfo=UTC, fold=0))
    step = it.get_prev if backwards else it.get_next
    while True:
        yield step(datetime).replace(tzinfo=None)


def fire_time(slot: datetime, zone: ZoneInfo) -> datetime:
    """When a wall-clock slot fires, in UTC: its first occurrence, or the first minute after the gap it falls in."""
    local = slot.replace(tzinfo=zone, fold=0)  # fold 0: the first of two occurrences
    while not _exists(local):  # a gap is finite, and ends on a whole minute of the clock
        local += timedelta(minutes=1)  # an aware datetime plus a timedelta moves along the wall clock
    return local.astimezone(UTC)


def _exists(local: datetime) -> bool:
    """False for a wall-clock time inside a spring-forward gap: it does not survive a round trip through UTC."""
    return local.astimezone(UTC).astimezone(local.tzinfo).replace(tzinfo=None) == local.replace(tzinfo=None)


def next_fire_times(expr: str, tz: str, now: datetime, count: int = 5) -> list[datetime]:
    """The next count fire times after now, computed in tz, returned in UTC."""
    zone = ZoneInfo(tz)
    times: list[datetime] = []
    for slot in wall_clock_slots(expr, now.astimezone(zone).replace(tzinfo=None)):
        fires = fire_time(slot, zone)
        # Skipped: a slot of the repeated hour when now is in its second pass (it fired in the first),
        # and the further slots of a gap (they fire together with the first).
        if fires <= now or (times and fires == times[-1]):
            continue
        times.append(fires)
        if len(times) == count:
            break
    return times


def latest_slot(expr: str, tz: str, now: datetime) -> datetime:
    """The most recent fire time at or before now, in UTC."""
    zone = ZoneInfo(tz)
    local_now = now.astimezone(zone)
    # In the second pass of a repeated hour the clock is behind the first pass, whose slots already fired:
    # look back from where the clock stood in the first pass (ahead by the change), not from where it is.
    ahead = now.astimezone(UTC) - local_now.replace(fold=0).astimezone(UTC)  # zero outside a second pass
    wall_now = local_now.replace(tzinfo=None, fold=0, second=0, microsecond=0) + ahead
    for slot in wall_clock_slots(expr, wall_now + timedelta(minutes=1), backwards=True):
        fires = fire_time(slot, zone)
        if fires <= now:  # fire times only grow with the wall clock: the first one found is the latest
            return fires
    raise AssertionError("unreachable: wall_clock_slots never ends")
