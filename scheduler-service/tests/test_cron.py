"""Cron validation, next fire times across DST, and the latest due slot."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

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
