"""System job reports: each service tells the scheduler what its cleanup or reap did."""

from __future__ import annotations

import logging

from celery import Celery

from shared import names

log = logging.getLogger(__name__)


def report_job(celery: Celery, service: str, job: str, outcome: dict) -> None:
    """Send the outcome to the scheduler, which keeps the history (/api/v1/scheduler/jobs)."""
    try:
        celery.send_task(names.MAINTENANCE_RECORD_JOB, kwargs={"job": job, "service": service, "outcome": outcome})
    except Exception:  # the job itself succeeded; a lost report is only a gap in the history
        log.warning("could not report %s to the scheduler", job, exc_info=True)
