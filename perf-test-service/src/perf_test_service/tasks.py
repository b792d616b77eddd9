"""Celery tasks of the perf-test service: thin wrappers over plain functions."""

from __future__ import annotations

from celery import shared_task

from perf_test_service.execution import execute_run
from perf_test_service.models import RUNS
from shared import names
from shared.app_factory import resources
from shared.runs.tasks import define_system_tasks

ping, cleanup_old_results, reap_stuck_runs = define_system_tasks(RUNS)


@shared_task(name=names.PERF_RUN_SCENARIO)
def run_scenario(run_id: str) -> dict:
    """Execute one load run; Locust runs in its own processes, never in this one."""
    app = resources()
    outcome = execute_run(run_id, sessions=app.sessions, redis=app.redis, settings=app.settings)
    return {"run_id": run_id, "state": outcome.state, "skipped": outcome.skipped_reason}
