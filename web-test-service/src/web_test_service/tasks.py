"""Celery tasks of the web-test service: thin wrappers over plain functions."""

from __future__ import annotations

import logging

from celery import shared_task

from shared import names
from shared.app_factory import resources
from shared.runs.tasks import define_system_tasks
from web_test_service import lanes, project_runs
from web_test_service.execution import BrowserUnavailable, execute_run
from web_test_service.models import RUNS
from web_test_service.runner.driver import make_driver, sweep_orphaned_browsers

log = logging.getLogger(__name__)

ping, cleanup_old_results, reap_stuck_runs = define_system_tasks(
    RUNS, before_reap=sweep_orphaned_browsers, after_cleanup=project_runs.delete_emptied_project_runs
)


@shared_task(name=names.WEB_RUN_SCRIPT, bind=True, max_retries=None)
def run_script(self, run_id: str) -> dict:
    """Execute one web run; a browser that cannot start is retried with backoff, nothing else is."""
    app = resources()
    settings = app.settings
    try:
        outcome = execute_run(
            run_id,
            sessions=app.sessions,
            redis=app.redis,
            driver_factory=lambda: make_driver(settings),
            is_last_attempt=self.request.retries >= settings.browser_start_retries,
        )
    except BrowserUnavailable as exc:
        countdown = settings.browser_start_backoff_s * 2**self.request.retries
        raise self.retry(exc=exc, countdown=countdown) from None
    return {"run_id": run_id, "state": outcome.state, "skipped": outcome.skipped_reason}


@shared_task(name=names.WEB_RUN_LANE, bind=True, max_retries=None)
def run_lane(self, project_run_id: str, suite_index: int, positions: list[int]) -> dict:
    """Execute tests of a project run in order (project_runs.py: lanes); retried like run_script."""
    app = resources()
    settings = app.settings
    worker = lanes.LaneWorker(
        sessions=app.sessions,
        redis=app.redis,
        driver_factory=lambda: make_driver(settings),
        task_id=self.request.id,
        is_last_attempt=self.request.retries >= settings.browser_start_retries,
        budget_s=settings.lane_budget_s,
        hand_over=lambda rest: project_runs.continue_lane(
            app.sessions, app.celery, project_run_id, suite_index, rest, settings.lane_budget_s
        ),
    )
    try:
        states = lanes.run_lane(project_run_id, suite_index, positions, worker)
    except BrowserUnavailable as exc:
        countdown = settings.browser_start_backoff_s * 2**self.request.retries
        raise self.retry(exc=exc, countdown=countdown) from None
    return {"project_run_id": project_run_id, "suite_index": suite_index, "states": states}


def sweep_browsers_of_dead_children(**_kwargs) -> None:
    """A pool child that replaces a killed one first removes the browsers the dead one left."""
    swept = sweep_orphaned_browsers()
    if swept:
        log.warning("killed %d browser processes left by a dead worker", swept)
