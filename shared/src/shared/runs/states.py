"""Run states, as the API, the database and both runners spell them (no dependencies: runners import it)."""

from __future__ import annotations

from enum import StrEnum


class RunState(StrEnum):
    queued = "queued"
    running = "running"
    passed = "passed"
    failed = "failed"
    error = "error"
    stopped = "stopped"


ACTIVE_STATES = frozenset({RunState.queued, RunState.running})
TERMINAL_STATES = frozenset(RunState) - ACTIVE_STATES
