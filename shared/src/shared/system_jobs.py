"""The system jobs every run-owning service performs on its own tables: cleanup and reaping."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import Celery
from redis import Redis
from sqlalchemy.orm import sessionmaker

from shared import names
from shared.db import utcnow
from shared.reaper import reap_stuck_runs
from shared.run_service import delete_runs_older_than

log = logging.getLogger(__name__)


def cleanup_old_results(*, sessions: sessionmaker, celery: Celery, settings, run_model, children: tuple,
                        retention_days: int | None) -> dict:  # fmt: skip
    """Delete finished runs older than the retention (idempotent) and report the counts."""
    days = retention_days or settings.result_retention_days
    with sessions() as session:
        counts = delete_runs_older_than(session, run_model, utcnow() - timedelta(days=days), children=children)
    outcome = {"retention_days": days, "deleted": counts}
    log.info("%s: %s", names.JOB_CLEANUP_OLD_RESULTS, outcome)
    report_job(celery, settings.service_name, names.JOB_CLEANUP_OLD_RESULTS, outcome)
    return outcome


def reap(*, sessions: sessionmaker, celery: Celery, redis: Redis, settings, run_model, task_name: str, queue: str,
         heartbeat_timeout_s: int) -> dict:  # fmt: skip
    """Settle runs no live worker holds (requeue once, else error) and report the counts."""
    with sessions() as session:
        outcome = reap_stuck_runs(session=session, run_model=run_model, redis=redis,
                                  celery=celery, task_name=task_name, queue=queue,
                                  heartbeat_timeout_s=heartbeat_timeout_s)  # fmt: skip
    if any(outcome.values()):
        log.info("%s: %s", names.JOB_REAP_STUCK_RUNS, outcome)
    report_job(celery, settings.service_name, names.JOB_REAP_STUCK_RUNS, outcome)
    return outcome


def report_job(celery: Celery, service: str, job: str, outcome: dict) -> None:
    """Tell the scheduler what a system job did; it keeps the history (/api/v1/scheduler/jobs)."""
    try:
        celery.send_task(names.MAINTENANCE_RECORD_JOB, kwargs={"job": job, "service": service, "outcome": outcome})
    except Exception:  # the job itself succeeded; a lost report is only a gap in the history
        log.warning("could not report %s to the scheduler", job, exc_info=True)
