"""The API side of a run: enqueue it (409 while one is active), stop it, read it and its history."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from celery import Celery
from redis import Redis
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shared.auth import User, load_owned, owner_filter
from shared.db import rows_changed, utcnow
from shared.errors import Conflict, ServiceUnavailable, Unprocessable
from shared.runs.idempotency import HEADER, IdempotencyKey
from shared.runs.kind import RunKind
from shared.runs.model import celery_priority, task_time_limits
from shared.runs.states import ACTIVE_STATES, RunState
from shared.runs.stop import request_stop

# After raising the stop flag, a running run gets this long to settle before its task is interrupted.
STOP_GRACE_S = 3.0


def active_run(session: Session, kind: RunKind, target_id: str, *, standalone: bool = True):
    """The queued or running run of a script or scenario, if any; standalone=False: any of its runs
    (a project run's children too, see RunKind.standalone)."""
    model = kind.model
    query = select(model).where(kind.target_column == target_id, model.state.in_([s.value for s in ACTIVE_STATES]))
    if standalone and kind.standalone is not None:
        query = query.where(kind.standalone)
    return session.execute(query).scalars().first()


def runs_of(kind: RunKind, target_id: str):
    """History of a script or scenario, newest first."""
    model = kind.model
    return select(model).where(kind.target_column == target_id).order_by(model.created_at.desc(), model.id.desc())


def visible_runs(kind: RunKind, user: User, *, state: str | None = None, target_id: str | None = None):
    """The runs the user may read, newest first; only those in state, or of one script or scenario, if given.

    A tester's list walks the (owner, created_at, id) index in order (shared/runs/model.py: list_index).
    """
    model = kind.model
    query = owner_filter(select(model), model.owner, user)
    if state is not None:
        query = query.where(model.state == state)
    if target_id is not None:
        query = query.where(kind.target_column == target_id)
    return query.order_by(model.created_at.desc(), model.id.desc())


def latest_run(session: Session, kind: RunKind, target_id: str):
    return session.execute(runs_of(kind, target_id).limit(1)).scalar_one_or_none()


def get_readable_run(session: Session, kind: RunKind, user: User, run_id: str):
    """A run the user may read; 404 otherwise."""
    return load_owned(session, kind.model, run_id, user, "run")


def delete_target(session: Session, kind: RunKind, user: User, target_id: str) -> None:
    """Delete a script or scenario; 409 while it has an active run (stop it first). Its runs stay in history."""
    target = load_owned(session, kind.target_model, target_id, user, kind.target_noun, write=True)
    if active_run(session, kind, target.id, standalone=False) is not None:
        raise Conflict(f"the {kind.target_noun} has an active run; stop it first")
    session.delete(target)
    session.commit()


def send_run_task(celery: Celery, kind: RunKind, run) -> None:
    """Publish the run's task under run.task_id, with the run's priority and its own time limits.

    A row from before runs kept their limit (time_limit_s 0) gets the service's default limits.
    """
    limits = task_time_limits(run.time_limit_s) if run.time_limit_s else {}
    celery.send_task(kind.task, args=[run.id], task_id=run.task_id, priority=celery_priority(run.priority), **limits)


def enqueue_run(session: Session, celery: Celery, kind: RunKind, run):
    """Insert the queued run, then send its task; 409 if another is active, 503 if the broker is down.

    The task id is chosen before the insert, so a submission is one write transaction: under
    concurrent submissions the SQLite write lock is taken once per run, and a run whose message
    was sent can no longer fail on a second commit. A row committed without its message (the API
    died in between) is re-enqueued by the reaper, which looks its task id up in the broker.
    """
    already_active = f"a run of this {kind.target_noun} is already queued or running"
    if active_run(session, kind, getattr(run, kind.target_column.key)) is not None:
        raise Conflict(already_active)
    run.state, run.attempts, run.task_id = RunState.queued, 0, uuid.uuid4().hex
    session.add(run)
    try:
        session.commit()
    except IntegrityError:  # the partial unique index: a concurrent request won
        session.rollback()
        raise Conflict(already_active) from None
    try:
        send_run_task(celery, kind, run)
    except Exception as exc:  # never leave a row queued that no message will ever run
        run.state, run.finished_at = RunState.error, utcnow()
        run.error = {"code": "broker_unavailable", "message": f"could not enqueue: {exc.__class__.__name__}"}
        # The start failed (503): its key is free again, so the client's retry can start the run.
        run.idempotency_key = run.idempotency_fingerprint = None
        session.commit()
        raise ServiceUnavailable("the broker is not reachable; retry shortly", code="broker_unavailable") from None
    return run


@dataclass(frozen=True)
class Submission:
    """The answer to a start: the run, and whether an earlier request with the same key had started it."""

    run: Any
    replayed: bool = False


def submit_run(session: Session, celery: Celery, kind: RunKind, run, key: IdempotencyKey | None) -> Submission:
    """Start the run (enqueue_run), or answer with the run an earlier request with the same key started.

    Keys are per owner of the run. Two requests racing with one key both miss the lookup and both
    insert; the unique index (shared/runs/model.py) lets one commit, and the other answers with it.
    """
    if key is None:
        return Submission(enqueue_run(session, celery, kind, run))
    earlier = run_started_with(session, kind, run.owner, key)
    if earlier is not None:
        return Submission(earlier, replayed=True)
    run.idempotency_key, run.idempotency_fingerprint = key.value, key.fingerprint
    try:
        return Submission(enqueue_run(session, celery, kind, run))
    except Conflict:  # the index, or the active run, may be a racing request with this key
        winner = run_started_with(session, kind, run.owner, key)
        if winner is None:
            raise
        return Submission(winner, replayed=True)


def run_started_with(session: Session, kind: RunKind, owner: str, key: IdempotencyKey):
    """The owner's run started with this key, if any; 422 if the key was used for another request."""
    model = kind.model
    query = select(model).where(model.owner == owner, model.idempotency_key == key.value)
    run = session.execute(query).scalar_one_or_none()
    if run is not None and run.idempotency_fingerprint != key.fingerprint:
        message = "was already used to start a different run (another target, body or user); send a new key"
        raise Unprocessable(f"{HEADER} {message}", details=[{"field": HEADER, "message": message}])
    return run


def stop_active(session: Session, redis: Redis, celery: Celery, kind: RunKind, target_id: str):
    """Stop the target's active run (409 if none): a queued one at once, a running one by its flag,
    then by interrupting its task."""
    run = active_run(session, kind, target_id)
    if run is None:
        raise Conflict(f"the {kind.target_noun} has no active run")
    request_stop(redis, run.id)
    if run.state == RunState.queued:
        # Compare-and-set: a worker may have started the run since it was read; then the flag stops it.
        model = kind.model
        stopped = rows_changed(
            session,
            update(model)
            .where(model.id == run.id, model.state == RunState.queued)
            .values(state=RunState.stopped, finished_at=utcnow()),
        )
        session.commit()
        session.refresh(run)
        if stopped:
            if run.task_id:
                celery.control.revoke(run.task_id)  # the worker discards it if it ever arrives
            return run
        if run.state not in ACTIVE_STATES:
            return run
    if not _wait_until_settled(session, run, STOP_GRACE_S) and run.task_id:
        # The run did not notice the flag: SIGUSR1 raises SoftTimeLimitExceeded inside the task,
        # whose handlers still close the browser / end the Locust processes.
        celery.control.revoke(run.task_id, terminate=True, signal="SIGUSR1")
    return run


def _wait_until_settled(session: Session, run, timeout_s: float) -> bool:
    """Poll the run row until it leaves the active states or timeout_s passes."""
    deadline = time.monotonic() + timeout_s
    while True:
        session.refresh(run)
        if run.state not in ACTIVE_STATES:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)
