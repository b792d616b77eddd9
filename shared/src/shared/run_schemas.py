"""Response shapes every run shares, web or perf (what RunColumns.run_fields() returns)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class RunFields(BaseModel):
    """The contract's common run fields; each service's run shape extends it."""

    run_id: str
    task_id: str | None
    state: str
    owner: str
    created_at: str
    started_at: str | None
    finished_at: str | None
    duration_ms: int | None
    error: dict[str, Any] | None


class RunAccepted(BaseModel):
    """The answer to starting a run (202)."""

    run_id: str
    task_id: str | None
    state: str
