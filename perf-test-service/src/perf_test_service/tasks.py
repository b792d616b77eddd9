"""Celery tasks of the perf-test service: thin wrappers over plain functions."""

from __future__ import annotations

import logging

from celery import shared_task
from flask import current_app

from perf_test_service.execution import execute_run
from perf_test_service.models import Run
from shared import names, system_jobs
from shared.run_execution import settle_on_failure

log = logging.getLogger(__name__)


def _db():
    return current_app.extensions["db"]


def _settings():
    return current_app.extensions["settings"]


def _celery():
    return current_app.extensions["celery"]


def _redis():
    return current_app.extensions["redis"]


@shared_task(name=names.PERF_PING, bind=True, ignore_result=False)
def ping(self) -> dict:
    """Answer with the worker's node name and queue (diagnostics, routing tests)."""
    return {"queue": names.PERF_QUEUE, "worker": self.request.hostname}


@shared_task(name=names.PERF_RUN_SCENARIO)
def run_scenario(run_id: str) -> dict:
    """Execute one load run; Locust runs in its own processes, never in this one."""
    settings, sessions, redis = _settings(), _db().session_factory, _redis()
    state = settle_on_failure(
        lambda: execute_run(run_id, sessions=sessions, redis=redis, settings=settings),
        sessions=sessions, run_model=Run, redis=redis, run_id=run_id,
    )  # fmt: skip
    return {"run_id": run_id, "state": state}


@shared_task(name=names.PERF_CLEANUP_OLD_RESULTS)
def cleanup_old_results(retention_days: int | None = None) -> dict:
    """Delete this service's runs (reports, CSV) older than the retention; idempotent."""
    return system_jobs.cleanup_old_results(sessions=_db().session_factory, celery=_celery(), settings=_settings(),
                                           run_model=Run, children=(), retention_days=retention_days)  # fmt: skip


@shared_task(name=names.PERF_REAP_STUCK_RUNS)
def reap_stuck_runs(heartbeat_timeout_s: int = 30) -> dict:
    """Settle runs whose worker is gone: requeue once, else error 'worker lost'."""
    return system_jobs.reap(sessions=_db().session_factory, celery=_celery(), redis=_redis(), settings=_settings(),
                            run_model=Run,
                            task_name=names.PERF_RUN_SCENARIO, queue=names.PERF_QUEUE,
                            heartbeat_timeout_s=heartbeat_timeout_s)  # fmt: skip
