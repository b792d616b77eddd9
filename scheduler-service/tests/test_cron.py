"""Cron validation, next fire times across DST, and the latest due slot."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from croniter import croniter

from scheduler_service.cron import five_fields, latest_slot, next_fire_times, validate_cron, validate_timezone

pytestmark = pytest.mark.timeout(30)


@pytest.mark.parametrize(
    ("expr", "reason"),
    [
        ("61 * * * *", "not a valid cron"),
        ("* * * *", "must have 5 fields"),
        ("*/5 * * * * 10", "must have 5 fields"),
        ("", "is empty"),
        ("@sometimes", "unknown alias"),
        ("0 0 31 2 *", "never fires"),
        ("a b c d e", "not a valid cron"),
    ],
)
def test_invalid_cron_says_why(expr, reason):
    with pytest.raises(ValueError, match=reason):
        validate_cron(expr)


def test_valid_cron_is_normalised():
    assert validate_cron("  0   9 * *  MON-FRI ") == "0 9 * * MON-FRI"
    assert validate_cron("@daily") == "@daily"
    assert five_fields("@daily") == "0 0 * * *"


@pytest.mark.parametrize("name", ["Mars/Olympus", "../etc/passwd", "", "utc+1"])
def test_unknown_timezone(name):
    with pytest.raises(ValueError, match="unknown timezone"):
        validate_timezone(name)


def test_next_fire_times_follow_the_timezone_across_dst():
    # Berlin switches from CET (+1) to CEST (+2) on 2025-03-30: 09:00 local moves from 08:00Z to 07:00Z.
    now = datetime(2025, 3, 28, 12, 0, tzinfo=UTC)
    times = next_fire_times("0 9 * * *", "Europe/Berlin", now)
    assert [t.isoformat() for t in times] == [
        "2025-03-29T08:00:00+00:00",
        "2025-03-30T07:00:00+00:00",
        "2025-03-31T07:00:00+00:00",
        "2025-04-01T07:00:00+00:00",
        "2025-04-02T07:00:00+00:00",
    ]
    assert all(t.tzinfo == UTC for t in times)
    # And back in autumn (2025-10-26): 09:00 local is 08:00Z again.
    autumn = next_fire_times("0 9 * * *", "Europe/Berlin", datetime(2025, 10, 25, 12, 0, tzinfo=UTC), 2)
    assert [t.isoformat() for t in autumn] == ["2025-10-26T08:00:00+00:00", "2025-10-27T08:00:00+00:00"]


def test_latest_slot_is_the_last_fire_time_at_or_before_now():
    assert latest_slot("* * * * *", "UTC", datetime(2025, 1, 1, 10, 1, 30, tzinfo=UTC)) == datetime(
        2025, 1, 1, 10, 1, tzinfo=UTC
    )
    assert latest_slot("* * * * *", "UTC", datetime(2025, 1, 1, 10, 1, 0, tzinfo=UTC)) == datetime(
        2025, 1, 1, 10, 1, tzinfo=UTC
    )
    assert latest_slot("0 9 * * *", "Europe/Berlin", datetime(2025, 3, 31, 7, 30, tzinfo=UTC)) == datetime(
        2025, 3, 31, 7, 0, tzinfo=UTC
    )


# --- daylight saving time: each wall-clock slot fires once -------------------------------------
#
# Berlin: CEST -> CET on 2025-10-26 (03:00 -> 02:00, so 02:00-02:59 happens twice) and CET -> CEST on 2025-03-30
# (02:00 -> 03:00, so 02:00-02:59 never happens). New York: EDT -> EST on 2025-11-02 (01:00-01:59 twice) and
# EST -> EDT on 2025-03-09 (02:00-02:59 never). Times are written on the zone's clock with their offset, so
# "02:30+02:00" is the first (summer time) 02:30 and "02:30+01:00" the repeated one.
BERLIN, NEW_YORK = "Europe/Berlin", "America/New_York"
BERLIN_AUTUMN, BERLIN_SPRING = "2025-10-26", "2025-03-30"
NEW_YORK_AUTUMN, NEW_YORK_SPRING = "2025-11-02", "2025-03-09"

DST_CASES = [
    # The repeated hour fires once, at its first occurrence.
    (BERLIN, "30 2 * * *", "2025-10-25T12:00", ["2025-10-26T02:30+02:00", "2025-10-27T02:30+01:00"]),
    (BERLIN, "30 3 * * *", "2025-10-25T12:00", ["2025-10-26T03:30+01:00", "2025-10-27T03:30+01:00"]),
    (NEW_YORK, "30 1 * * *", "2025-11-01T12:00", ["2025-11-02T01:30-04:00", "2025-11-03T01:30-05:00"]),
    (NEW_YORK, "30 2 * * *", "2025-11-01T12:00", ["2025-11-02T02:30-05:00", "2025-11-03T02:30-05:00"]),
    (NEW_YORK, "30 3 * * *", "2025-11-01T12:00", ["2025-11-02T03:30-05:00", "2025-11-03T03:30-05:00"]),
    (
        BERLIN,
        "*/15 * * * *",
        "2025-10-26T01:30",
        [
            "2025-10-26T01:45+02:00",
            "2025-10-26T02:00+02:00",
            "2025-10-26T02:15+02:00",
            "2025-10-26T02:30+02:00",
            "2025-10-26T02:45+02:00",
            "2025-10-26T03:00+01:00",
            "2025-10-26T03:15+01:00",
        ],
    ),
    (
        NEW_YORK,
        "*/15 * * * *",
        "2025-11-02T00:30",
        [
            "2025-11-02T00:45-04:00",
            "2025-11-02T01:00-04:00",
            "2025-11-02T01:15-04:00",
            "2025-11-02T01:30-04:00",
            "2025-11-02T01:45-04:00",
            "2025-11-02T02:00-05:00",
            "2025-11-02T02:15-05:00",
        ],
    ),
    # The skipped hour fires once, at the first minute after the gap (03:00 in both zones).
    (BERLIN, "30 2 * * *", "2025-03-29T12:00", ["2025-03-30T03:00+02:00", "2025-03-31T02:30+02:00"]),
    (BERLIN, "30 3 * * *", "2025-03-29T12:00", ["2025-03-30T03:30+02:00", "2025-03-31T03:30+02:00"]),
    (NEW_YORK, "30 2 * * *", "2025-03-08T12:00", ["2025-03-09T03:00-04:00", "2025-03-10T02:30-04:00"]),
    (NEW_YORK, "30 3 * * *", "2025-03-08T12:00", ["2025-03-09T03:30-04:00", "2025-03-10T03:30-04:00"]),
    # Every slot of the gap (02:00, 02:15, 02:30, 02:45) and 03:00 itself are one firing at 03:00.
    (
        BERLIN,
        "*/15 * * * *",
        "2025-03-30T01:30",
        ["2025-03-30T01:45+01:00", "2025-03-30T03:00+02:00", "2025-03-30T03:15+02:00", "2025-03-30T03:30+02:00"],
    ),
    (
        NEW_YORK,
        "*/15 * * * *",
        "2025-03-09T01:30",
        ["2025-03-09T01:45-05:00", "2025-03-09T03:00-04:00", "2025-03-09T03:15-04:00", "2025-03-09T03:30-04:00"],
    ),
]


def on_clock(times: list[datetime], tz: str) -> list[str]:
    """Instants as the zone's clock shows them, with the offset that tells the two passes of an hour apart."""
    return [t.astimezone(ZoneInfo(tz)).isoformat(timespec="minutes") for t in times]


def local(tz: str, wall: str, fold: int = 0) -> datetime:
    """A wall-clock time in tz (fold=1: the second pass of a repeated hour)."""
    return datetime.fromisoformat(wall).replace(tzinfo=ZoneInfo(tz), fold=fold)


@pytest.mark.parametrize(("tz", "expr", "start", "expected"), DST_CASES)
def test_next_fire_times_fire_each_wall_clock_slot_once_across_dst(tz, expr, start, expected):
    times = next_fire_times(expr, tz, local(tz, start), len(expected))
    assert on_clock(times, tz) == expected
    assert all(t.tzinfo == UTC for t in times)


@pytest.mark.parametrize(("tz", "expr", "start", "expected"), DST_CASES)
def test_latest_slot_steps_through_the_same_slots_across_dst(tz, expr, start, expected):
    # Asked a second after each fire time, and a second before the next one, latest_slot names that fire time.
    times = [datetime.fromisoformat(t) for t in expected]
    for fire_time, next_time in itertools.pairwise(times):
        for now in (fire_time + timedelta(seconds=1), next_time - timedelta(seconds=1)):
            assert on_clock([latest_slot(expr, tz, now)], tz) == on_clock([fire_time], tz), now.isoformat()


def test_the_second_pass_of_the_repeated_hour_has_no_slot_of_its_own():
    # 02:10 and 02:40 on Berlin's clock after falling back: the latest slots are the first pass's, 02:45 and
    # 02:30 summer time, not new ones at 02:00 or 02:30 winter time.
    for wall in ("2025-10-26T02:10", "2025-10-26T02:40"):
        second_pass = local(BERLIN, wall, fold=1)
        assert on_clock([latest_slot("*/15 * * * *", BERLIN, second_pass)], BERLIN) == ["2025-10-26T02:45+02:00"]
        assert on_clock([latest_slot("30 2 * * *", BERLIN, second_pass)], BERLIN) == ["2025-10-26T02:30+02:00"]
        assert next_fire_times("*/15 * * * *", BERLIN, second_pass, 1) == [local(BERLIN, "2025-10-26T03:00")]
    # New York repeats 01:00-01:59.
    ny_second_pass = local(NEW_YORK, "2025-11-02T01:05", fold=1)
    assert on_clock([latest_slot("*/15 * * * *", NEW_YORK, ny_second_pass)], NEW_YORK) == ["2025-11-02T01:45-04:00"]
    assert next_fire_times("*/15 * * * *", NEW_YORK, ny_second_pass, 1) == [local(NEW_YORK, "2025-11-02T02:00")]


def test_croniter_alone_fires_the_repeated_hour_twice():
    """Why cron.py maps slots itself: croniter in a zone lists 02:30 twice on Berlin's autumn night.

    cron.py uses croniter only on the plain calendar, so a croniter that changed this would not change
    cron.py; this test would then only say that the mapping in cron.py might be left to croniter.
    """
    start = local(BERLIN, "2025-10-25T12:00")
    it = croniter("30 2 * * *", start)
    assert on_clock([it.get_next(datetime), it.get_next(datetime)], BERLIN) == [
        "2025-10-26T02:30+02:00",
        "2025-10-26T02:30+01:00",
    ]
