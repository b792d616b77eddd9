"""Celery tasks of the perf-test service: thin wrappers over plain functions."""

from __future__ import annotations

import logging

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from flask import current_app

from perf_test_service.execution import execute_run, settle_after_crash
from perf_test_service.models import Run
from shared import names, system_jobs
from shared.redis_client import redis_from_url
from shared.runs import RunState, stop_requested

log = logging.getLogger(__name__)


def _db():
    return current_app.extensions["db"]


def _settings():
    return current_app.extensions["settings"]


def _celery():
    return current_app.extensions["celery"]


@shared_task(name=names.PERF_PING, bind=True, ignore_result=False)
def ping(self) -> dict:
    """Answer with the worker's node name and queue (diagnostics, routing tests)."""
    return {"queue": names.PERF_QUEUE, "worker": self.request.hostname}


@shared_task(name=names.PERF_RUN_SCENARIO)
def run_scenario(run_id: str) -> dict:
    """Execute one load run; Locust runs in its own processes, never in this one."""
    settings = _settings()
    redis = redis_from_url(settings.redis_url)
    sessions = _db().session_factory
    try:
        state = execute_run(run_id, sessions=sessions, redis=redis, settings=settings)
    except SoftTimeLimitExceeded:
        # The time limit, or a stop the run did not notice (revoke with SIGUSR1).
        if stop_requested(redis, run_id):
            settle_after_crash(sessions=sessions, run_id=run_id, code="stopped", message="stopped",
                               state=RunState.stopped)  # fmt: skip
            return {"run_id": run_id, "state": RunState.stopped}
        settle_after_crash(sessions=sessions, run_id=run_id, code="timeout", message="the run exceeded its time limit")
        raise
    except Exception as exc:
        log.exception("run %s crashed", run_id)
        settle_after_crash(sessions=sessions, run_id=run_id, code="internal_error",
                           message=f"{exc.__class__.__name__}: {exc}")  # fmt: skip
        raise
    return {"run_id": run_id, "state": state}


@shared_task(name=names.PERF_CLEANUP_OLD_RESULTS)
def cleanup_old_results(retention_days: int | None = None) -> dict:
    """Delete this service's runs (reports, CSV) older than the retention; idempotent."""
    return system_jobs.cleanup_old_results(sessions=_db().session_factory, celery=_celery(), settings=_settings(),
                                           run_model=Run, children=(), retention_days=retention_days)  # fmt: skip


@shared_task(name=names.PERF_REAP_STUCK_RUNS)
def reap_stuck_runs(heartbeat_timeout_s: int = 30) -> dict:
    """Settle runs whose worker is gone: requeue once, else error 'worker lost'."""
    return system_jobs.reap(sessions=_db().session_factory, celery=_celery(), settings=_settings(), run_model=Run,
                            task_name=names.PERF_RUN_SCENARIO, queue=names.PERF_QUEUE,
                            heartbeat_timeout_s=heartbeat_timeout_s)  # fmt: skip
