"""Celery tasks of the maintenance and webhooks queues: thin wrappers over plain functions."""

from __future__ import annotations

import logging
from datetime import datetime

from celery import shared_task
from flask import current_app
from pydantic import ValidationError

from scheduler_service import service as scheduler
from scheduler_service import webhook_delivery
from scheduler_service.schemas import JobReport
from shared import names
from shared.db import iso, utcnow

log = logging.getLogger(__name__)
# Infrastructure errors only (target restarting, unreachable): a 404/409 is an answer.
FIRE_RETRIES = 2
FIRE_RETRY_BACKOFF_S = 10


def _settings():
    return current_app.extensions["settings"]


def _session():
    return current_app.extensions["db"].session


@shared_task(name=names.MAINTENANCE_PING, bind=True, ignore_result=False)
def ping(self) -> dict:
    """Answer with the worker's node name and queue (diagnostics, routing tests)."""
    return {"queue": names.MAINTENANCE_QUEUE, "worker": self.request.hostname}


@shared_task(name=names.MAINTENANCE_RECORD_JOB)
def record_job(job: str, service: str, outcome: dict | None = None) -> dict | None:
    """Store a system job's run (cleanup, reaper) as the service that ran it reported it."""
    try:
        report = JobReport(job=job, service=service, outcome=outcome or {})
    except ValidationError as exc:  # a malformed report is dropped, not retried forever
        log.warning("ignored a malformed job report %r from %r: %s", job, service, exc)
        return None
    row = scheduler.record_job(session=_session(), report=report, retention_days=_settings().result_retention_days)
    return {"id": row.id, "job": row.job, "service": row.service}


@shared_task(name=names.MAINTENANCE_EVALUATE_SCHEDULES)
def evaluate_schedules() -> dict:
    """Claim every enabled schedule's due cron slot and fire each claimed one (a task each)."""
    settings = _settings()
    claimed = scheduler.claim_due_slots(session=_session(), now=utcnow(), grace_s=settings.schedule_misfire_grace_s)
    celery = current_app.extensions["celery"]
    for schedule_id, slot in claimed:
        celery.send_task(names.MAINTENANCE_FIRE_SCHEDULE, kwargs={"schedule_id": schedule_id, "slot": iso(slot)})
    return {"fired": [schedule_id for schedule_id, _ in claimed]}


@shared_task(name=names.MAINTENANCE_FIRE_SCHEDULE, bind=True, max_retries=FIRE_RETRIES)
def fire_schedule(self, schedule_id: str, slot: str | None = None) -> dict | None:
    """Start one claimed slot's run as the schedule's owner; retry only if unreachable."""
    outcome = scheduler.fire_schedule(
        session=_session(),
        settings=_settings(),
        schedule_id=schedule_id,
        trigger="cron",
        slot=datetime.fromisoformat(slot) if slot else None,
    )
    if outcome and outcome["retryable"] and self.request.retries < FIRE_RETRIES:
        raise self.retry(countdown=FIRE_RETRY_BACKOFF_S * 2**self.request.retries)
    return outcome


# --- webhooks (queue "webhooks") ------------------------------------------------------------


@shared_task(name=names.WEBHOOKS_PUBLISH_EVENT)
def publish_event(event: dict) -> dict:
    """Turn a run event into a delivery per matching webhook, and send each webhook's deliveries."""
    webhook_ids = webhook_delivery.enqueue_event(_session(), event)
    for webhook_id in webhook_ids:
        _celery().send_task(names.WEBHOOKS_DELIVER, kwargs={"webhook_id": webhook_id})
    return {"event": event.get("id"), "webhooks": webhook_ids}


@shared_task(name=names.WEBHOOKS_DELIVER)
def deliver(webhook_id: str) -> dict:
    """Send one webhook's due deliveries, in order (a no-op while another worker does)."""
    redis = current_app.extensions["redis"]
    return webhook_delivery.deliver_due(_session(), _settings(), redis, webhook_id)


@shared_task(name=names.WEBHOOKS_SWEEP)
def sweep() -> dict:
    """From beat: send deliver() for every webhook with a delivery due (retries, leases that lapsed)."""
    webhook_ids = webhook_delivery.due_webhooks(_session(), utcnow())
    for webhook_id in webhook_ids:
        _celery().send_task(
            names.WEBHOOKS_DELIVER, kwargs={"webhook_id": webhook_id}, expires=_settings().webhook_sweep_interval_s
        )
    return {"webhooks": webhook_ids}


def _celery():
    return current_app.extensions["celery"]
