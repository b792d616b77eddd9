"""Celery tasks of the web-test service: thin wrappers over plain functions."""

from __future__ import annotations

import logging

from celery import shared_task
from celery.signals import worker_process_init
from flask import current_app

from shared import names, system_jobs
from shared.run_execution import settle_on_failure
from web_test_service.execution import BrowserUnavailable, execute_run
from web_test_service.models import Run, Screenshot, Step
from web_test_service.runner.driver import make_driver, sweep_orphaned_browsers

log = logging.getLogger(__name__)


def _db():
    return current_app.extensions["db"]


def _settings():
    return current_app.extensions["settings"]


def _redis():
    return current_app.extensions["redis"]


def _celery():
    return current_app.extensions["celery"]


@shared_task(name=names.WEB_PING, bind=True, ignore_result=False)
def ping(self) -> dict:
    """Answer with the worker's node name and queue (diagnostics, routing tests)."""
    return {"queue": names.WEB_QUEUE, "worker": self.request.hostname}


@shared_task(name=names.WEB_RUN_SCRIPT, bind=True, max_retries=None)
def run_script(self, run_id: str) -> dict:
    """Execute one web run; a browser that cannot start is retried with backoff, nothing else is."""
    settings, sessions, redis = _settings(), _db().session_factory, _redis()

    def execute():
        return execute_run(
            run_id,
            sessions=sessions,
            redis=redis,
            driver_factory=lambda: make_driver(settings),
            is_last_attempt=self.request.retries >= settings.browser_start_retries,
        )

    try:
        outcome = settle_on_failure(execute, sessions=sessions, run_model=Run, redis=redis, run_id=run_id,
                                    passthrough=(BrowserUnavailable,))  # fmt: skip
    except BrowserUnavailable as exc:
        countdown = settings.browser_start_backoff_s * 2**self.request.retries
        raise self.retry(exc=exc, countdown=countdown) from None
    if isinstance(outcome, str):  # settled as stopped by settle_on_failure
        return {"run_id": run_id, "state": outcome}
    return {"run_id": run_id, "state": outcome.state, "skipped": outcome.skipped_reason}


@shared_task(name=names.WEB_CLEANUP_OLD_RESULTS)
def cleanup_old_results(retention_days: int | None = None) -> dict:
    """Delete this service's runs (steps, screenshots) older than the retention; idempotent."""
    return system_jobs.cleanup_old_results(sessions=_db().session_factory, celery=_celery(), settings=_settings(),
                                           run_model=Run, children=(Screenshot, Step),
                                           retention_days=retention_days)  # fmt: skip


@worker_process_init.connect
def _sweep_on_start(**_kwargs) -> None:
    """A pool child that replaces a killed one first removes the browsers the dead one left."""
    swept = sweep_orphaned_browsers()
    if swept:
        log.warning("killed %d browser processes left by a dead worker", swept)


@shared_task(name=names.WEB_REAP_STUCK_RUNS)
def reap_stuck_runs(heartbeat_timeout_s: int = 30) -> dict:
    """Settle runs whose worker is gone: requeue once, else error 'worker lost'."""
    sweep_orphaned_browsers()
    return system_jobs.reap(sessions=_db().session_factory, celery=_celery(), redis=_redis(), settings=_settings(),
                            run_model=Run,
                            task_name=names.WEB_RUN_SCRIPT, queue=names.WEB_QUEUE,
                            heartbeat_timeout_s=heartbeat_timeout_s)  # fmt: skip
