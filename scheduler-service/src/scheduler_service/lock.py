"""The fire-once guard: which slot a due beat entry is for, and one SET NX per (entry, slot).

Celery assumes a single beat. RedBeat's lock makes one beat active, but a beat that
stalled past the lock timeout can resume while a standby already took over; the guard
keeps even two beats that both believe they are active to one firing per slot.
"""

from __future__ import annotations

from datetime import UTC, datetime

from celery.schedules import crontab, schedule
from redis import Redis

FIRED_KEY = "testfleet:beat:fired:{entry}:{slot}"
# Message header naming the slot a beat message was sent for (logs, duplicate checks).
SLOT_HEADER = "testfleet_beat_slot"
# A never-run entry is due at once on every beat: all agree to call that slot "first".
FIRST_SLOT = "first"


def entry_slot(entry) -> str:
    """The nominal time this due entry fires for, derived only from its stored last_run_at.

    Two beats reading the same entry from Redis compute the same slot, whatever their
    clocks say; wall-clock "now" never enters the result.
    """
    last = entry.last_run_at
    if last is None:
        return FIRST_SLOT
    sched = entry.schedule
    if isinstance(sched, crontab):
        start, delta, _now = sched.remaining_delta(last)
        due: datetime = start + delta
    elif isinstance(sched, schedule):
        due = sched.maybe_make_aware(last) + sched.run_every
    else:  # other schedule types: each stored last_run_at is fired from once
        due = last
    if due.tzinfo is None:
        due = due.replace(tzinfo=UTC)
    return due.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def claim_slot(client: Redis, entry: str, slot: str, owner: str, ttl_s: int) -> bool:
    """True for the one caller that marks (entry, slot) as fired; False for everyone else."""
    return bool(client.set(FIRED_KEY.format(entry=entry, slot=slot), owner, nx=True, ex=ttl_s))
