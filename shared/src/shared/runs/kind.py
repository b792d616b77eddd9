"""A run kind: what the shared run lifecycle needs to know about one service's runs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RunKind:
    """One service's runs: their table, child tables, target, task and queue.

    The shared functions (enqueue, stop, attempt, reap, retention) take a kind instead of being
    wrapped once per service.
    """

    name: str  # "web" or "perf", for logs
    model: Any  # the Run model (mixes in shared.runs.model.RunColumns)
    target_model: Any  # Script or Scenario
    target_column: Any  # Run.script_id or Run.scenario_id
    children: tuple[Any, ...]  # tables with a run_id column, deleted with their run
    task: str  # the Celery task that executes a run (shared/names.py)
    queue: str
    target_noun: str  # "script" or "scenario", for messages
    cleanup_task: str  # the system jobs' tasks (shared/runs/tasks.py)
    reap_task: str
    # Which runs are "the" active run of a target (at most one; starting another is a 409): None, all of them.
    # Web runs that are children of a project run are not: a project may run while its scripts run alone.
    standalone: Any = None

    @property
    def target_deleted(self) -> dict[str, str]:
        """The error of a run whose script or scenario was deleted before it started."""
        return {"code": f"{self.target_noun}_deleted", "message": f"{self.target_noun} deleted"}
