"""Schedules and system job runs: plain functions the views and tasks call."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import Select, delete, or_, select, update
from sqlalchemy.orm import Session

from scheduler_service.config import SchedulerSettings
from scheduler_service.cron import latest_slot
from scheduler_service.firing import RunRequest, firing_key, start_run
from scheduler_service.models import JobRun, Schedule
from scheduler_service.schemas import JobReport, ScheduleCreate, SchedulePatch
from shared.auth import User, load_owned, owner_filter
from shared.db import iso, utcnow
from shared.errors import Forbidden

log = logging.getLogger(__name__)


# --- schedules: CRUD -----------------------------------------------------------------------


def create_schedule(*, session: Session, user: User, data: ScheduleCreate) -> Schedule:
    """Create a schedule owned by the caller, who must be a tester or an admin."""
    if user.role.name == "viewer":
        raise Forbidden("requires role tester or higher")
    now = utcnow()
    schedule = Schedule(
        owner=user.id,
        owner_role=user.role.name,
        name=data.name,
        cron=data.cron,
        timezone=data.timezone,
        target=data.target.model_dump(),
        enabled=data.enabled,
        # Slots up to the creation instant are not this schedule's to fire.
        last_slot_at=now,
        created_at=now,
        updated_at=now,
    )
    session.add(schedule)
    session.commit()
    return schedule


def schedules_query(*, user: User) -> Select:
    """Schedules the user may read, newest first."""
    return owner_filter(select(Schedule), Schedule.owner, user).order_by(Schedule.created_at.desc(), Schedule.id)


def get_schedule(*, session: Session, user: User, schedule_id: str) -> Schedule:
    """The schedule if the user may read it; 404 otherwise (ids of others do not leak)."""
    return load_owned(session, Schedule, schedule_id, user, "schedule")


def writable_schedule(*, session: Session, user: User, schedule_id: str) -> Schedule:
    """The schedule if the user may change it (404 if unreadable, 403 if read-only)."""
    return load_owned(session, Schedule, schedule_id, user, "schedule", write=True)


def replace_schedule(*, session: Session, user: User, schedule_id: str, data: ScheduleCreate) -> Schedule:
    """Replace every user field (PUT); owner and history stay."""
    return patch_schedule(session=session, user=user, schedule_id=schedule_id, data=SchedulePatch(**data.model_dump()))


def patch_schedule(*, session: Session, user: User, schedule_id: str, data: SchedulePatch) -> Schedule:
    """Change the given fields; an edit takes effect from the next slot on."""
    schedule = writable_schedule(session=session, user=user, schedule_id=schedule_id)
    changes = data.model_dump(exclude_none=True)
    for field, value in changes.items():
        setattr(schedule, field, value)
    now = utcnow()
    # A slot that passed before the edit belongs to the old definition: do not fire it late.
    schedule.last_slot_at = max(filter(None, [schedule.last_slot_at, now]))
    schedule.updated_at = now
    session.commit()
    return schedule


def delete_schedule(*, session: Session, user: User, schedule_id: str) -> None:
    """Delete a schedule the user may change."""
    schedule = writable_schedule(session=session, user=user, schedule_id=schedule_id)
    session.delete(schedule)
    session.commit()


# --- schedules: evaluation and firing ---------------------------------------------------


def claim_slot(*, session: Session, schedule_id: str, slot: datetime) -> bool:
    """Mark slot as fired for the schedule; True only for the one caller that moved it.

    One conditional UPDATE, atomic on SQLite and PostgreSQL: two beats, two evaluations
    or two maintenance workers racing for the same slot get exactly one winner.
    """
    result = session.execute(
        update(Schedule)
        .where(Schedule.id == schedule_id, Schedule.enabled.is_(True))
        .where(or_(Schedule.last_slot_at.is_(None), Schedule.last_slot_at < slot))
        .values(last_slot_at=slot)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return result.rowcount == 1


def claim_due_slots(*, session: Session, now: datetime, grace_s: float) -> list[tuple[str, datetime]]:
    """Claim the latest due slot of every enabled schedule; return what to fire.

    A slot older than grace_s (beat was down) is claimed but not fired, so a long outage
    never ends in a burst of stale runs.
    """
    rows = session.execute(select(Schedule.id, Schedule.cron, Schedule.timezone, Schedule.last_slot_at).where(
        Schedule.enabled.is_(True)
    )).all()  # fmt: skip
    session.rollback()  # end the read transaction before the per-row updates
    to_fire = []
    for schedule_id, cron, tz, last_slot_at in rows:
        try:
            slot = latest_slot(cron, tz, now)
        except Exception:  # a row edited outside the API must not stop the others
            log.exception("schedule %s: cannot evaluate cron %r in %s", schedule_id, cron, tz)
            continue
        if last_slot_at is not None and slot <= last_slot_at:
            continue
        if not claim_slot(session=session, schedule_id=schedule_id, slot=slot):
            continue
        if now - slot > timedelta(seconds=grace_s):
            log.warning("schedule %s: slot %s missed by more than %ss; skipped", schedule_id, iso(slot), grace_s)
            continue
        to_fire.append((schedule_id, slot))
    return to_fire


def fire_schedule(
    *,
    session: Session,
    settings: SchedulerSettings,
    schedule_id: str,
    trigger: str,
    slot: datetime | None = None,
) -> dict | None:
    """Start the schedule's run as its owner and record the outcome; None if it is gone."""
    schedule = session.get(Schedule, schedule_id)
    if schedule is None:
        log.info("schedule %s was deleted before it fired", schedule_id)
        return None
    if trigger == "cron" and not schedule.enabled:
        log.info("schedule %s was disabled before it fired", schedule_id)
        return None
    target = schedule.target or {}
    request = RunRequest(
        base_url=settings.target_urls[target["kind"]],
        kind=target["kind"],
        target_id=str(target["id"]),
        params=target.get("params") or {},
        owner=schedule.owner,
        owner_role=schedule.owner_role,
        # A cron firing is retried (tasks.py); a manual trigger is not, so it needs no key.
        idempotency_key=firing_key(schedule.id, slot) if slot is not None else None,
    )
    session.rollback()  # no transaction held open across the HTTP call
    result = start_run(
        request,
        secret=settings.auth_secret,
        token_ttl_s=settings.schedule_token_ttl_s,
        timeout_s=settings.schedule_fire_timeout_s,
    )
    fired_at = utcnow()
    outcome = {
        "status": result["status"],
        "trigger": trigger,
        "fired_at": iso(fired_at),
        "slot": iso(slot),
        "http_status": result.get("http_status"),
        "run_id": result.get("run_id"),
        "task_id": result.get("task_id"),
        "error": result.get("error"),
    }
    session.execute(
        update(Schedule)
        .where(Schedule.id == schedule_id)
        .values(last_fired_at=fired_at, last_outcome=outcome)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    log.info("schedule %s fired (%s): %s", schedule_id, trigger, outcome)
    return {**outcome, "retryable": result.get("retryable", False)}


# --- system jobs ----------------------------------------------------------------------------


def record_job(*, session: Session, report: JobReport, retention_days: int) -> JobRun:
    """Store one system job run as a service reported it; drop that job's runs past the retention."""
    now = utcnow()
    row = JobRun(job=report.job, service=report.service, outcome=report.outcome, created_at=now)
    session.add(row)
    # The reaper reports every few seconds: the history keeps what the results keep, no more.
    session.execute(
        delete(JobRun).where(
            JobRun.job == report.job,
            JobRun.service == report.service,
            JobRun.created_at < now - timedelta(days=retention_days),
        )
    )
    session.commit()
    log.info("system job %s on %s: %s", report.job, report.service, report.outcome)
    return row


def job_runs_query(*, job: str | None = None) -> Select:
    """System job runs, newest first, optionally of one job."""
    stmt = select(JobRun).order_by(JobRun.created_at.desc(), JobRun.id.desc())
    return stmt.where(JobRun.job == job) if job else stmt
