"""What a worker does around every run, web or perf: hold its lock, refuse runs that must not start,
settle a run whose task failed instead of leaving it `running`."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from celery.exceptions import SoftTimeLimitExceeded
from redis import Redis
from sqlalchemy.orm import Session, sessionmaker

from shared.db import utcnow
from shared.reaper import MAX_ATTEMPTS, WORKER_LOST
from shared.runs import ACTIVE_STATES, RUN_LOCK_TTL_S, RunLock, RunState, retry_db, stop_requested

log = logging.getLogger(__name__)
T = TypeVar("T")
# A delivery that finds the lock held by a live holder on another host waits this long for it to lapse.
LOCK_WAIT_S = RUN_LOCK_TTL_S + 5


@contextmanager
def holding_run_lock(redis: Redis, run_id: str, wait_s: float = LOCK_WAIT_S) -> Iterator[RunLock | None]:
    """Yield the run's lock (taken at once, from a dead holder on this host, or once it lapsed), else None.

    None means another delivery is executing the run: the caller must not touch it.
    """
    lock = RunLock(redis, run_id, ttl_s=RUN_LOCK_TTL_S)
    if not lock.acquire_or_wait(wait_s):
        yield None
        return
    try:
        yield lock
    finally:
        try:
            lock.release()
        except Exception:  # Redis away: the lock expires by itself
            log.warning("could not release the lock of run %s", run_id, exc_info=True)


def settle(session: Session, run, state: RunState, error: dict | None = None) -> str:
    """Give the run its terminal state now (in the caller's transaction) and commit."""
    run.state, run.finished_at, run.error = state, utcnow(), error
    session.commit()
    return state


def refuse_to_start(session: Session, redis: Redis, run, target, missing_code: str) -> str | None:
    """Settle a run that must not start and return its state; None if it may start.

    It must not start when a stop was asked meanwhile, when its script or scenario was deleted, or
    when every earlier execution died holding it (it would kill another worker).
    """
    if stop_requested(redis, run.id):
        return settle(session, run, RunState.stopped)
    if target is None:
        return settle(session, run, RunState.error, {"code": missing_code, "message": missing_code.replace("_", " ")})
    if run.state == RunState.running and run.attempts >= MAX_ATTEMPTS:
        return settle(session, run, RunState.error, dict(WORKER_LOST))
    return None


def settle_if_active(sessions: sessionmaker, run_model, run_id: str, state: RunState, error: dict | None = None) -> str:
    """Settle the run unless it is already settled (retried through a database outage); return its state."""

    def attempt() -> str:
        with sessions() as session:
            run = session.get(run_model, run_id)
            if run is None:
                return "skipped"
            if run.state not in ACTIVE_STATES:
                return run.state
            return settle(session, run, state, error)

    return retry_db(attempt, f"settle run {run_id}")


def settle_on_failure(execute: Callable[[], T], *, sessions: sessionmaker, run_model, redis: Redis, run_id: str,
                      passthrough: tuple[type[BaseException], ...] = ()) -> T | str:  # fmt: skip
    """Run execute(); if the task is interrupted or crashes, settle the run rather than leave it running.

    SoftTimeLimitExceeded is the time limit, or a stop the run did not notice (the API revokes the task
    with SIGUSR1): the stop flag tells them apart. Exceptions in passthrough (the caller retries) pass.
    """
    try:
        return execute()
    except passthrough:
        raise
    except SoftTimeLimitExceeded:
        if stop_requested(redis, run_id):
            return settle_if_active(sessions, run_model, run_id, RunState.stopped)
        error = {"code": "timeout", "message": "the run exceeded its time limit"}
        settle_if_active(sessions, run_model, run_id, RunState.error, error)
        raise
    except Exception as exc:
        log.exception("run %s crashed", run_id)
        error = {"code": "internal_error", "message": f"{exc.__class__.__name__}: {exc}"[:2000]}
        settle_if_active(sessions, run_model, run_id, RunState.error, error)
        raise
