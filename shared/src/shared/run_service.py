"""Run lifecycle shared by web and perf: enqueue (409 while active), stop, history, cleanup."""

from __future__ import annotations

import time
import uuid
from datetime import datetime

from celery import Celery
from redis import Redis
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shared.auth import User, check_readable
from shared.db import utcnow
from shared.errors import Conflict, NotFound, ServiceUnavailable
from shared.runs import ACTIVE_STATES, TERMINAL_STATES, RunState, request_stop

# After raising the stop flag, a running run gets this long to settle before the task is interrupted.
STOP_GRACE_S = 3.0
ALREADY_ACTIVE = "a run is already queued or running"


def celery_priority(priority: int) -> int:
    """The API's 9-is-most-urgent onto kombu's Redis priorities, where 0 is served first."""
    return 9 - priority


def active_run(session: Session, target_column, target_id: str):
    """The queued or running run of a script or scenario, if any."""
    run_model = target_column.class_
    query = select(run_model).where(target_column == target_id, run_model.state.in_([s.value for s in ACTIVE_STATES]))
    return session.execute(query).scalars().first()


def runs_of(target_column, target_id: str):
    """History of a script or scenario, newest first."""
    run_model = target_column.class_
    return (
        select(run_model).where(target_column == target_id).order_by(run_model.created_at.desc(), run_model.id.desc())
    )


def get_readable_run(session: Session, run_model, user: User, run_id: str):
    """A run the user may read; 404 otherwise."""
    run = session.get(run_model, run_id)
    if run is None:
        raise NotFound(f"run {run_id} not found")
    check_readable(user, run.owner, "run")
    return run


def latest_run(session: Session, target_column, target_id: str):
    return session.execute(runs_of(target_column, target_id).limit(1)).scalar_one_or_none()


def enqueue_run(session: Session, celery: Celery, run, task_name: str, *, time_limit_s: float):
    """Insert the queued run, then send its task; 409 if another is active, 503 if the broker is down.

    The task id is chosen before the insert, so a submission is one write transaction: under
    concurrent submissions the SQLite write lock is taken once per run, and a run whose message
    was sent can no longer fail on a second commit. A row committed without its message (the API
    died in between) is re-enqueued by the reaper, which looks its task id up in the broker.
    """
    run.task_id = uuid.uuid4().hex
    session.add(run)
    try:
        session.commit()
    except IntegrityError:  # the partial unique index: a concurrent request won
        session.rollback()
        raise Conflict(ALREADY_ACTIVE) from None
    try:
        celery.send_task(
            task_name,
            args=[run.id],
            task_id=run.task_id,
            priority=celery_priority(run.priority),
            soft_time_limit=time_limit_s + 30,
            time_limit=time_limit_s + 60,
        )
    except Exception as exc:  # never leave a row queued that no message will ever run
        run.state, run.finished_at = RunState.error, utcnow()
        run.error = {"code": "broker_unavailable", "message": f"could not enqueue: {exc.__class__.__name__}"}
        session.commit()
        raise ServiceUnavailable("the broker is not reachable; retry shortly", code="broker_unavailable") from None
    return run


def stop_active(session: Session, redis: Redis, celery: Celery, run) -> None:
    """Stop a run: a queued one at once; a running one by its flag, then by interrupting the task."""
    request_stop(redis, run.id)
    if run.state == RunState.queued:
        # Compare-and-set: a worker may have started the run since it was read; then the flag stops it.
        model = type(run)
        stopped = session.execute(
            update(model)
            .where(model.id == run.id, model.state == RunState.queued)
            .values(state=RunState.stopped, finished_at=utcnow())
        ).rowcount
        session.commit()
        session.refresh(run)
        if stopped:
            if run.task_id:
                celery.control.revoke(run.task_id)  # the worker discards it if it ever arrives
            return
        if run.state not in ACTIVE_STATES:
            return
    if not wait_until_settled(session, run, STOP_GRACE_S) and run.task_id:
        # The run did not notice the flag: SIGUSR1 raises SoftTimeLimitExceeded inside the task,
        # whose handlers still close the browser / end the Locust processes.
        celery.control.revoke(run.task_id, terminate=True, signal="SIGUSR1")


def wait_until_settled(session: Session, run, timeout_s: float) -> bool:
    """Poll the run row until it leaves the active states or timeout_s passes."""
    deadline = time.monotonic() + timeout_s
    while True:
        session.refresh(run)
        if run.state not in ACTIVE_STATES:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)


def delete_runs_older_than(session: Session, run_model, cutoff: datetime, children: tuple = ()) -> dict[str, int]:
    """Delete finished runs created before cutoff and their child rows; return what was deleted."""
    old = select(run_model.id).where(
        run_model.created_at < cutoff, run_model.state.in_([s.value for s in TERMINAL_STATES])
    )
    ids = list(session.execute(old).scalars())
    counts = {"runs": 0} | {child.__tablename__: 0 for child in children}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        for child in children:
            where = child.run_id.in_(chunk)
            counts[child.__tablename__] += session.execute(
                select(func.count()).select_from(child).where(where)
            ).scalar_one()
            session.execute(delete(child).where(where))
        counts["runs"] += session.execute(delete(run_model).where(run_model.id.in_(chunk))).rowcount
    session.commit()
    return counts
