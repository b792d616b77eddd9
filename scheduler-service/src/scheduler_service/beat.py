"""The beat scheduler: RedBeat's lock, a fire-once guard per slot, and a tick heartbeat.

Liveness: a standby beat waits for the lock in short rounds and touches the heartbeat
file ($VAR_DIR/heartbeat/beat) on each round, so file-age probes pass on active and
standby beats alike. Readiness: only the active beat writes BEAT_LAST_TICK_KEY, so the
API's /ready `beat` check fails when no beat is firing.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable

import redis
from celery.signals import beat_init
from redbeat import RedBeatScheduler
from redbeat.schedulers import LUA_EXTEND_TO_SCRIPT, acquire_distributed_beat_lock, get_redis

from scheduler_service.lock import SLOT_HEADER, claim_slot, entry_slot
from shared.redis_client import redis_from_url

log = logging.getLogger(__name__)
BEAT_LAST_TICK_KEY = "testfleet:beat:last-tick"
BEAT_HOLDER_KEY = "testfleet:beat:holder"
# The tick key's TTL doubles as a clock: age = TTL - remaining TTL, all in Redis time.
BEAT_TICK_KEY_TTL_S = 3600
# How often a standby retries the lock: takeover lands within this of the lock expiring.
LOCK_POLL_S = 0.5

REDIS_DOWN = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


def init_beat() -> None:
    """Replace RedBeat's startup lock hook (call from the beat's entry point).

    RedBeat blocks in beat_init until it holds the lock, touching nothing meanwhile; LockedScheduler
    takes the lock in tick() instead, keeping the heartbeat alive while it waits.
    """
    beat_init.disconnect(acquire_distributed_beat_lock)
    beat_init.connect(_acquire_for_plain_redbeat, weak=False)


def _acquire_for_plain_redbeat(sender=None, **kwargs):
    """Keep RedBeat's startup lock for plain RedBeatScheduler users in this process."""
    if isinstance(sender.scheduler, RedBeatScheduler) and not isinstance(sender.scheduler, LockedScheduler):
        acquire_distributed_beat_lock(sender=sender, **kwargs)


class LockedScheduler(RedBeatScheduler):
    """RedBeat (one active beat among replicas) that fires each (entry, slot) once."""

    def __init__(self, app, *args, **kwargs):
        super().__init__(app, *args, **kwargs)
        self.settings = app.conf.get("testfleet_settings")
        self.node = f"{socket.gethostname()}:{os.getpid()}"
        self._tick_redis = redis_from_url(self.settings.redis_url) if self.settings else None

    @property
    def guard_ttl_s(self) -> int:
        """Seconds a fired (entry, slot) key is kept."""
        return self.settings.beat_fire_guard_ttl_s if self.settings else 600

    # --- the lock ---------------------------------------------------------------------

    def tick(self, *args, **kwargs):
        try:
            if self.lock_key:
                self._hold_lock()
            next_wake = super().tick(*args, **kwargs)
        except REDIS_DOWN:
            # Without Redis nothing can fire anyway; retry soon instead of crashing beat.
            log.warning("beat: Redis unreachable; retrying", exc_info=True)
            return min(1.0, self.max_interval)
        self._record_tick()
        return next_wake

    def _hold_lock(self) -> None:
        """Extend the lock we hold, or wait (as a standby) until we get it."""
        if self.lock is not None:
            try:
                self.lock.extend(int(self.lock_timeout))
                return
            except redis.exceptions.LockError:
                log.warning("beat: lost the lock (stalled past %ss?); standing by", self.lock_timeout)
                self.lock = None
        self._wait_for_lock()

    def _wait_for_lock(self) -> None:
        client = get_redis(self.app)
        lock = client.lock(self.lock_key, timeout=self.lock_timeout, sleep=LOCK_POLL_S)
        # RedBeat's extend sets the TTL to lock_timeout rather than adding to it.
        lock.lua_extend = client.register_script(LUA_EXTEND_TO_SCRIPT)
        log.info("beat: standing by for lock %s", self.lock_key)
        while True:
            self._touch_heartbeat_file()  # a standby is alive, just not firing
            try:
                if lock.acquire(blocking=True, blocking_timeout=self.max_interval):
                    break
            except REDIS_DOWN:
                log.warning("beat: Redis unreachable while waiting for the lock", exc_info=True)
                time.sleep(min(5.0, self.max_interval))
        self.lock = lock
        log.info("beat: Acquired lock; %s fires the schedule", self.node)

    def close(self):
        try:
            client = get_redis(self.app)
            if self.lock is not None and self.lock.owned() and client.get(BEAT_HOLDER_KEY) == self.node:
                client.delete(BEAT_HOLDER_KEY)
        except Exception:  # shutting down: Redis may already be gone
            log.debug("beat: could not clear the holder key", exc_info=True)
        super().close()

    # --- the fire-once guard ------------------------------------------------------------

    def maybe_due(self, entry, **kwargs):
        is_due, next_time_to_run = entry.is_due()
        if not is_due:
            return next_time_to_run
        slot = entry_slot(entry)
        if not claim_slot(get_redis(self.app), entry.name, slot, self.node, self.guard_ttl_s):
            log.warning("beat: %s slot %s was already fired by another beat; skipped", entry.name, slot)
            return next_time_to_run
        headers = {**(entry.options or {}).get("headers", {}), SLOT_HEADER: slot}
        entry.options = {**(entry.options or {}), "headers": headers}
        log.info("Scheduler: Sending due task %s (%s) slot %s", entry.name, entry.task, slot)
        try:
            self.apply_async(entry, **kwargs)
        except Exception:  # one failing entry must not stop the others
            log.exception("Scheduler: could not send %s", entry.name)
        return next_time_to_run

    # --- heartbeat ----------------------------------------------------------------------

    def _touch_heartbeat_file(self) -> None:
        if self.settings is None:
            return
        heartbeat_dir = self.settings.resolved_var_dir / "heartbeat"
        heartbeat_dir.mkdir(parents=True, exist_ok=True)
        (heartbeat_dir / "beat").touch()

    def _record_tick(self) -> None:
        self._touch_heartbeat_file()
        if self._tick_redis is None:
            return
        try:
            pipe = self._tick_redis.pipeline()
            pipe.set(BEAT_LAST_TICK_KEY, f"{time.time():.3f}", ex=BEAT_TICK_KEY_TTL_S)
            pipe.set(BEAT_HOLDER_KEY, self.node, ex=BEAT_TICK_KEY_TTL_S)
            pipe.execute()
        except Exception:  # the tick itself must go on while Redis blips
            log.warning("could not record the beat tick", exc_info=True)


def last_tick_age_s(client: redis.Redis) -> float | None:
    """Seconds since the active beat's last tick (Redis clock), or None if none ticked."""
    remaining_ms = client.pttl(BEAT_LAST_TICK_KEY)
    if remaining_ms is None or remaining_ms < 0:
        return None
    return max(0.0, BEAT_TICK_KEY_TTL_S - remaining_ms / 1000)


def beat_check(redis_url: str, max_age_s: float, timeout_s: float) -> Callable[[], None]:
    """A /ready check: the active beat ticked within max_age_s."""
    client = redis_from_url(redis_url, timeout_s)

    def check() -> None:
        age = last_tick_age_s(client)
        if age is None:
            raise RuntimeError("no beat has ticked (is a beat process running?)")
        if age > max_age_s:
            raise RuntimeError(f"beat's last tick was {age:.0f}s ago (limit {max_age_s:g}s)")

    return check
