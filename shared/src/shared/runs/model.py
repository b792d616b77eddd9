"""The run row every service shares: columns, attempts, priorities and time limits (states: states.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from shared.config import HARD_LIMIT_MARGIN_S, SOFT_LIMIT_MARGIN_S
from shared.db import UTCDateTime, new_id, utcnow
from shared.runs.states import RunState

# The partial index behind "one active run per script or scenario" (two racing POSTs: one 409).
ACTIVE_RUN_WHERE = text("state IN ('queued', 'running')")

# A run is started at most this many times (first delivery plus one redelivery or requeue):
# a run that killed its worker twice would kill a third.
MAX_ATTEMPTS = 2
WORKER_LOST = {"code": "worker_lost", "message": "worker lost"}


def celery_priority(priority: int) -> int:
    """The API's 9-is-most-urgent onto kombu's Redis priorities, where 0 is served first."""
    return 9 - priority


def task_time_limits(time_limit_s: float) -> dict[str, float]:
    """send_task's soft and hard limits for a run that may take time_limit_s."""
    return {"soft_time_limit": time_limit_s + SOFT_LIMIT_MARGIN_S, "time_limit": time_limit_s + HARD_LIMIT_MARGIN_S}


def active_run_index(name: str, target_column: str, standalone: str | None = None) -> Index:
    """At most one queued or running run per target, enforced by the database.

    standalone: the SQL condition of the runs this applies to (RunKind.standalone), e.g. not a project's child.
    """
    where = text(f"{ACTIVE_RUN_WHERE.text} AND {standalone}") if standalone else ACTIVE_RUN_WHERE
    return Index(name, target_column, unique=True, sqlite_where=where, postgresql_where=where)


def idempotency_key_index(table: str) -> Index:
    """At most one run per owner and Idempotency-Key: the database settles two racing retries (api.py)."""
    return Index(f"uq_{table}_owner_idempotency_key", "owner", "idempotency_key", unique=True)


def list_index(table: str) -> Index:
    """A tester's list of runs, newest first, read in index order: owner, then created_at and id (api.visible_runs)."""
    return Index(f"ix_{table}_owner_created_at", "owner", "created_at", "id")


def target_reference(table: str) -> Any:
    """The run's script or scenario: kept as history (NULL) when the target is deleted."""
    return mapped_column(String(32), ForeignKey(f"{table}.id", ondelete="SET NULL"), index=True, nullable=True)


class RunColumns:
    """Columns of a run row; a service's Run model mixes this in.

    `attempts` counts the executions a worker started; it is also the fence of an execution: a worker
    writes to the run only while `attempts` is still the number it claimed (see shared/runs/worker.py).
    """

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    owner: Mapped[str] = mapped_column(String(200), index=True)
    state: Mapped[str] = mapped_column(String(16), index=True, default=RunState.queued)
    task_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    priority: Mapped[int] = mapped_column(Integer, default=5)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # The run's own limit, kept so a run the reaper requeues gets the same task limits again.
    time_limit_s: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    error: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    # The Idempotency-Key the run was started with, and a hash of that request (who asked, for which
    # target, with which body), so a retry returns this run and a reused key is told apart (api.py).
    idempotency_key: Mapped[str | None] = mapped_column(String(255), nullable=True)
    idempotency_fingerprint: Mapped[str | None] = mapped_column(String(64), nullable=True)

    @property
    def run_id(self) -> str:
        return self.id

    @property
    def duration_ms(self) -> int | None:
        if self.started_at and self.finished_at:
            return int((self.finished_at - self.started_at).total_seconds() * 1000)
        return None
