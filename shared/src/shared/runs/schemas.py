"""Response shapes every run shares, web or perf; built from the run row itself (from_attributes)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class RunFields(BaseModel):
    """The contract's common run fields; each service's run shape extends it."""

    model_config = ConfigDict(from_attributes=True)

    run_id: str
    task_id: str | None
    state: str
    owner: str
    priority: int
    attempts: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    duration_ms: int | None
    error: dict[str, Any] | None


class RunAccepted(BaseModel):
    """The answer to starting a run (202)."""

    model_config = ConfigDict(from_attributes=True)

    run_id: str
    task_id: str | None
    state: str
    # True when an earlier request with the same Idempotency-Key started this run (shared/runs/api.py).
    replayed: bool = False
