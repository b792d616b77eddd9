"""The Celery tasks every run-owning service has besides its run task: ping, cleanup, reap."""

from __future__ import annotations

from collections.abc import Callable

from celery import shared_task

from shared import names
from shared.app_factory import resources
from shared.runs import reaper, retention
from shared.runs.kind import RunKind
from shared.runs.retention import AfterCleanup


def define_system_tasks(
    kind: RunKind, before_reap: Callable[[], object] | None = None, after_cleanup: AfterCleanup | None = None
) -> tuple:
    """Register the kind's ping, cleanup and reap tasks (names from shared/names.py); return them."""

    @shared_task(name=names.PING_TASK[kind.queue], bind=True, ignore_result=False)
    def ping(self) -> dict:
        """Answer with the worker's node name and queue (diagnostics, routing tests)."""
        return {"queue": kind.queue, "worker": self.request.hostname}

    @shared_task(name=kind.cleanup_task)
    def cleanup_old_results(retention_days: int | None = None) -> dict:
        """Delete this service's finished runs (and child rows) older than the retention; idempotent."""
        app = resources()
        days = retention_days or app.settings.result_retention_days
        service = app.settings.service_name
        return retention.cleanup_old_results(app.sessions, app.celery, kind, service, days, after_cleanup)

    @shared_task(name=kind.reap_task)
    def reap_stuck_runs(heartbeat_timeout_s: int = 30) -> dict:
        """Settle runs whose worker is gone: requeue once, else error 'worker lost'."""
        if before_reap is not None:
            before_reap()
        app = resources()
        service = app.settings.service_name
        return reaper.reap(app.sessions, app.redis, app.celery, kind, service, heartbeat_timeout_s)

    return ping, cleanup_old_results, reap_stuck_runs
