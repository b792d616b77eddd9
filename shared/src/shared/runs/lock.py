"""The per-run lock in Redis: one execution of a run at a time, taken over from a holder that died."""

from __future__ import annotations

import os
import socket
import time
import uuid

import psutil
from redis import Redis

from shared import names

# How often an executing run refreshes its lock; the lock lives for LOCK_TTL_BEATS beats, so a holder
# that died frees it within RUN_LOCK_TTL_S even when nobody can tell it died.
HEARTBEAT_INTERVAL_S = 5.0
LOCK_TTL_BEATS = 6
RUN_LOCK_TTL_S = int(HEARTBEAT_INTERVAL_S * LOCK_TTL_BEATS)

# Compare-and-act in one step so a lock that expired and was taken over is left alone.
_REFRESH_IF_HOLDER = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('expire', KEYS[1], ARGV[2]) else return 0 end"
)
_RELEASE_IF_HOLDER = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"
_TAKE_OVER_FROM = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('set', KEYS[1], ARGV[2], 'EX', ARGV[3]) "
    "else return 0 end"
)


def lock_key(run_id: str) -> str:
    return names.RUN_LOCK_KEY.format(run_id=run_id)


def _process_started(pid: int) -> str | None:
    """When pid started (seconds since the epoch, as text), or None if it is gone or a zombie."""
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return None
        return f"{process.create_time():.2f}"
    except psutil.Error:
        return None


def holder_identity() -> str:
    """hostname|pid|start time|random: who holds a lock, precise enough to tell it has died."""
    pid = os.getpid()
    return f"{socket.gethostname()}|{pid}|{_process_started(pid) or ''}|{uuid.uuid4().hex}"


def holder_is_dead(value: str | bytes | None) -> bool:
    """True only when the holder ran on this host and its process is gone (or its pid was reused).

    A holder on another host cannot be checked from here: it counts as alive until its lock expires.
    """
    if value is None:
        return False
    if isinstance(value, bytes):
        value = value.decode(errors="replace")
    parts = value.split("|")
    if len(parts) != 4 or parts[0] != socket.gethostname() or not parts[1].isdigit():
        return False
    started = _process_started(int(parts[1]))
    return started is None or (bool(parts[2]) and started != parts[2])


class RunLock:
    """A per-run lock so a redelivered task never executes a run twice at once.

    The holder refreshes it while it works; if the holder dies, it expires after ttl_s. The value names
    the holder (hostname, pid, process start time), so a redelivery on the same host can see at once that
    the holder was killed and take the lock over instead of waiting for it to expire.
    """

    def __init__(self, client: Redis, run_id: str, ttl_s: int = RUN_LOCK_TTL_S):
        self.client = client
        self.key = lock_key(run_id)
        self.token = holder_identity()
        self.ttl_s = ttl_s

    def acquire(self) -> bool:
        return bool(self.client.set(self.key, self.token, nx=True, ex=self.ttl_s))

    def take_over_if_holder_dead(self) -> bool:
        """Take the lock from a holder on this host whose process is gone; False if it may be alive."""
        current = self.client.get(self.key)
        if current is None or not holder_is_dead(current):
            return False
        return bool(self.client.eval(_TAKE_OVER_FROM, 1, self.key, current, self.token, self.ttl_s))

    def acquire_or_wait(self, timeout_s: float, poll_s: float = 0.5) -> bool:
        """Acquire, take over from a dead holder on this host, or wait for the lock to expire (bounded).

        A duplicate delivery while the holder is alive returns False after timeout_s; the live holder
        settles the run. A holder that died on another host frees the lock within ttl_s.
        """
        deadline = time.monotonic() + timeout_s
        while True:
            if self.acquire() or self.take_over_if_holder_dead():
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(poll_s)

    def refresh(self) -> bool:
        """Extend the lock if this holder still owns it; False once someone else has it or it lapsed."""
        return bool(self.client.eval(_REFRESH_IF_HOLDER, 1, self.key, self.token, self.ttl_s))

    def release(self) -> None:
        self.client.eval(_RELEASE_IF_HOLDER, 1, self.key, self.token)


def is_locked(client: Redis, run_id: str) -> bool:
    """Whether some worker holds the run's lock."""
    return bool(client.exists(lock_key(run_id)))
