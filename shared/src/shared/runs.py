"""What web and perf runs share: states, the run row's columns, the per-run lock, stop flags."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from redis import Redis
from sqlalchemy import JSON, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import UTCDateTime, utcnow


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


# Compare-and-act in one step so a lock that expired and was taken over is left alone.
_REFRESH_IF_HOLDER = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('expire', KEYS[1], ARGV[2]) else return 0 end"
)
_RELEASE_IF_HOLDER = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"


class RunLock:
    """A per-run lock so a redelivered task never executes a run twice at once.

    The holder refreshes it while it works; if the holder dies, it expires after ttl_s.
    """

    def __init__(self, client: Redis, run_id: str, ttl_s: int = 60):
        self.client = client
        self.key = LOCK_KEY.format(run_id=run_id)
        self.token = uuid.uuid4().hex
        self.ttl_s = ttl_s

    def acquire(self) -> bool:
        return bool(self.client.set(self.key, self.token, nx=True, ex=self.ttl_s))

    def refresh(self) -> bool:
        """Extend the lock if this holder still owns it."""
        return bool(self.client.eval(_REFRESH_IF_HOLDER, 1, self.key, self.token, self.ttl_s))

    def release(self) -> None:
        self.client.eval(_RELEASE_IF_HOLDER, 1, self.key, self.token)


def request_stop(client: Redis, run_id: str, ttl_s: int = 24 * 3600) -> None:
    """Raise the stop flag a running task checks between steps."""
    client.set(STOP_KEY.format(run_id=run_id), "1", ex=ttl_s)


def stop_requested(client: Redis, run_id: str) -> bool:
    return bool(client.exists(STOP_KEY.format(run_id=run_id)))
