"""What web and perf runs share: states, the run row's columns, the per-run lock, stop flags."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from typing import TypeVar

from redis import Redis
from sqlalchemy import JSON, Integer, String, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Mapped, mapped_column, sessionmaker

from shared.db import UTCDateTime, utcnow

log = logging.getLogger(__name__)
T = TypeVar("T")

# How often a running run refreshes its lock and heartbeat_at; the lock lives for LOCK_TTL_BEATS beats,
# so a holder that died frees it within RUN_LOCK_TTL_S even when nobody can tell it died.
HEARTBEAT_INTERVAL_S = 5.0
LOCK_TTL_BEATS = 6
RUN_LOCK_TTL_S = int(HEARTBEAT_INTERVAL_S * LOCK_TTL_BEATS)
# The worker retries database writes of a run for this long (bounded backoff) before giving up.
DB_RETRY_BUDGET_S = 60.0


class RunState(StrEnum):
    queued = "queued"
    running = "running"
    passed = "passed"
    failed = "failed"
    error = "error"
    stopped = "stopped"


ACTIVE_STATES = frozenset({RunState.queued, RunState.running})
TERMINAL_STATES = frozenset(RunState) - ACTIVE_STATES


def new_id() -> str:
    return uuid.uuid4().hex


class RunColumns:
    """Columns of a run row; a service's Run model mixes this in."""

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    owner: Mapped[str] = mapped_column(String(200), index=True)
    state: Mapped[str] = mapped_column(String(16), index=True, default=RunState.queued)
    task_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    priority: Mapped[int] = mapped_column(Integer, default=5)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    error: Mapped[dict | None] = mapped_column(JSON, nullable=True)

    @property
    def duration_ms(self) -> int | None:
        if self.started_at and self.finished_at:
            return int((self.finished_at - self.started_at).total_seconds() * 1000)
        return None

    def run_fields(self) -> dict:
        """The contract's common run fields."""
        return {
            "run_id": self.id,
            "task_id": self.task_id,
            "state": self.state,
            "owner": self.owner,
            "priority": self.priority,
            "attempts": self.attempts,
            "created_at": iso(self.created_at),
            "started_at": iso(self.started_at),
            "finished_at": iso(self.finished_at),
            "duration_ms": self.duration_ms,
            "error": self.error,
        }


def iso(value: datetime | None) -> str | None:
    """ISO 8601 UTC with a Z, or None."""
    return value.isoformat().replace("+00:00", "Z") if value else None


# --- Redis coordination -----------------------------------------------------------------

LOCK_KEY = "testfleet:run-lock:{run_id}"
STOP_KEY = "testfleet:run-stop:{run_id}"


def _process_start_time(pid: int) -> str | None:
    """The kernel's start time of pid (clock ticks since boot), or None if it does not exist."""
    try:
        stat = open(f"/proc/{pid}/stat", encoding="ascii", errors="replace").read()  # noqa: SIM115
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    if fields and fields[0] == "Z":  # a zombie is dead
        return None
    return fields[19] if len(fields) > 19 else None


def holder_identity() -> str:
    """hostname|pid|start time|random: who holds a lock, precise enough to tell it has died."""
    pid = os.getpid()
    return f"{socket.gethostname()}|{pid}|{_process_start_time(pid) or ''}|{uuid.uuid4().hex}"


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
    started = _process_start_time(int(parts[1]))
    return started is None or (bool(parts[2]) and started != parts[2])


# Compare-and-act in one step so a lock that expired and was taken over is left alone.
_REFRESH_IF_HOLDER = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('expire', KEYS[1], ARGV[2]) else return 0 end"
)
_RELEASE_IF_HOLDER = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"
_TAKE_OVER_FROM = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('set', KEYS[1], ARGV[2], 'EX', ARGV[3]) "
    "else return 0 end"
)


class RunLock:
    """A per-run lock so a redelivered task never executes a run twice at once.

    The holder refreshes it while it works; if the holder dies, it expires after ttl_s. The value names
    the holder (hostname, pid, process start time), so a redelivery on the same host can see at once that
    the holder was killed and take the lock over instead of waiting for it to expire.
    """

    def __init__(self, client: Redis, run_id: str, ttl_s: int = 60):
        self.client = client
        self.key = LOCK_KEY.format(run_id=run_id)
        self.token = holder_identity()
        self.ttl_s = ttl_s

    def acquire(self) -> bool:
        return bool(self.client.set(self.key, self.token, nx=True, ex=self.ttl_s))

    def take_over_if_holder_dead(self) -> bool:
        """Take the lock from a holder on this host whose process is gone; False if it may be alive."""
        current = self.client.get(self.key)
        if not holder_is_dead(current):
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
        """Extend the lock if this holder still owns it."""
        return bool(self.client.eval(_REFRESH_IF_HOLDER, 1, self.key, self.token, self.ttl_s))

    def release(self) -> None:
        self.client.eval(_RELEASE_IF_HOLDER, 1, self.key, self.token)


def is_db_outage(exc: BaseException) -> bool:
    """A database error worth retrying: the connection failed or was lost (not a bad statement)."""
    return isinstance(exc, DBAPIError) and (
        exc.connection_invalidated or exc.__class__.__name__ in ("OperationalError", "InterfaceError")
    )


def retry_db(fn: Callable[[], T], what: str, budget_s: float = DB_RETRY_BUDGET_S, first_delay_s: float = 0.25) -> T:
    """Call fn (which opens its own session) until it succeeds, retrying database outages with backoff.

    Backoff doubles from first_delay_s up to 5 s; after budget_s the last error is raised. Other errors
    are raised at once: only an unreachable database is worth waiting for.
    """
    deadline = time.monotonic() + budget_s
    delay = first_delay_s
    while True:
        try:
            return fn()
        except Exception as exc:
            if not is_db_outage(exc) or time.monotonic() + delay > deadline:
                raise
            log.warning("%s: database unavailable (%s); retrying in %.2f s", what, exc.__class__.__name__, delay)
            time.sleep(delay)
            delay = min(delay * 2, 5.0)


class Heartbeat:
    """While a run executes: refresh its lock and its heartbeat_at so the reaper leaves it alone.

    A background thread, so a step that blocks (a slow page, Locust starting) never lets the lock lapse.
    The lock is refreshed before the database is touched: a database outage does not free the lock.
    """

    def __init__(self, sessions: sessionmaker, run_model, run_id: str, lock: RunLock,
                 interval_s: float = HEARTBEAT_INTERVAL_S):  # fmt: skip
        self.sessions, self.run_model, self.run_id, self.lock = sessions, run_model, run_id, lock
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"heartbeat-{run_id}", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._beat()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=self.interval_s + 5)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._beat()

    def _beat(self) -> None:
        try:
            self.lock.refresh()
        except Exception:  # Redis briefly away: the lock's TTL spans several beats
            log.warning("lock refresh of run %s failed", self.run_id, exc_info=True)
        try:
            with self.sessions() as session:
                model = self.run_model
                session.execute(update(model).where(model.id == self.run_id).values(heartbeat_at=utcnow()))
                session.commit()
        except Exception:  # a missed beat is tolerated; the reaper also requires the lock to be gone
            log.warning("heartbeat of run %s failed", self.run_id, exc_info=True)


def request_stop(client: Redis, run_id: str, ttl_s: int = 24 * 3600) -> None:
    """Raise the stop flag a running task checks between steps."""
    client.set(STOP_KEY.format(run_id=run_id), "1", ex=ttl_s)


def stop_requested(client: Redis, run_id: str) -> bool:
    return bool(client.exists(STOP_KEY.format(run_id=run_id)))
