"""The worker side of a run: one attempt at executing it, from lock and claim to a fenced verdict.

    with run_attempt(kind, run_id, sessions=..., redis=..., prepare=...) as attempt:
        if attempt.refused:
            return attempt.outcome
        result = runner(..., should_stop=attempt.should_stop)
        return attempt.finish(result.state, result.error)
    return attempt.outcome  # settled by the crash guard

`run_attempt` takes the run's lock (or refuses a duplicate delivery), claims the run or settles it
when it must not start, keeps the lock and heartbeat_at fresh, and settles the run when the body is
interrupted or crashes. Every write of the attempt is fenced: it applies only while the run is still
`running` with the attempt number this worker claimed, so a worker that lost its run (cut off past
the heartbeat timeout while the reaper requeued it) can no longer overwrite the newer attempt. Such
a worker sees its lock or its fence gone at the next heartbeat, and should_stop() turns true so its
browser or Locust is stopped.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from celery.exceptions import SoftTimeLimitExceeded
from redis import Redis
from sqlalchemy import update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from shared.db import rows_changed, utcnow
from shared.runs.kind import RunKind
from shared.runs.lock import HEARTBEAT_INTERVAL_S, RUN_LOCK_TTL_S, RunLock
from shared.runs.model import MAX_ATTEMPTS, WORKER_LOST
from shared.runs.states import ACTIVE_STATES, RunState
from shared.runs.stop import stop_requested

log = logging.getLogger(__name__)
T = TypeVar("T")
R = TypeVar("R")

# A delivery that finds the lock held by a live holder on another host waits this long for it to lapse.
LOCK_WAIT_S = RUN_LOCK_TTL_S + 5
# The worker retries database writes of a run for this long (bounded backoff) before giving up.
DB_RETRY_BUDGET_S = 60.0
TIMED_OUT = {"code": "timeout", "message": "the run exceeded its time limit"}
LOST = {"code": "worker_lost", "message": "the worker lost its hold on the run (lock or attempt taken over)"}


def crash_error(exc: BaseException) -> dict[str, str]:
    return {"code": "internal_error", "message": f"{exc.__class__.__name__}: {exc}"[:2000]}


@dataclass
class Outcome:
    """What an attempt did: the run's state, and why nothing ran if it was skipped."""

    state: str
    skipped_reason: str | None = None


class Refuse(Exception):
    """Raised by a prepare function: settle the run with this state instead of starting it."""

    def __init__(self, state: RunState, error: dict | None = None):
        super().__init__(state)
        self.state, self.error = state, error


def is_db_outage(exc: BaseException) -> bool:
    """A database error worth retrying: the connection failed or was lost (not a bad statement)."""
    return isinstance(exc, DBAPIError) and (
        exc.connection_invalidated or exc.__class__.__name__ in ("OperationalError", "InterfaceError")
    )


def retry_db(fn: Callable[[], R], what: str, budget_s: float = DB_RETRY_BUDGET_S, first_delay_s: float = 0.25) -> R:
    """Call fn (which opens its own session) until it succeeds, retrying database outages with backoff.

    Backoff doubles from first_delay_s up to 5 s; after budget_s the last error is raised. Other errors
    are raised at once: only an unreachable database is worth waiting for.
    """
    deadline = time.monotonic() + budget_s
    delay = first_delay_s
    while True:
        try:
            return fn()
        except Exception as exc:
            if not is_db_outage(exc) or time.monotonic() + delay > deadline:
                raise
            log.warning("%s: database unavailable (%s); retrying in %.2f s", what, exc.__class__.__name__, delay)
            time.sleep(delay)
            delay = min(delay * 2, 5.0)


class Attempt(Generic[T]):
    """One execution of a run by this worker; every write it makes is fenced by its attempt number."""

    def __init__(self, kind: RunKind, run_id: str, sessions: sessionmaker, redis: Redis):
        self.kind, self.run_id, self.sessions, self.redis = kind, run_id, sessions, redis
        self.number = 0  # the run's `attempts` once claimed; 0 while not claimed
        self.claimed: T | None = None  # what prepare() returned
        self.outcome: Outcome | None = None  # set once the attempt is refused or settled
        self.lost = threading.Event()

    @property
    def refused(self) -> bool:
        """True when the run must not be executed (duplicate delivery, settled, stopped, ...)."""
        return self.number == 0

    def should_stop(self) -> bool:
        """True once the user asked to stop or this attempt lost the run."""
        return self.lost.is_set() or self._stop_was_asked()

    def mark_lost(self, why: str) -> None:
        if not self.lost.is_set():
            log.warning("run %s attempt %d lost: %s; stopping it", self.run_id, self.number, why)
            self.lost.set()

    # --- fenced writes ------------------------------------------------------------------

    def _fenced(self):
        model = self.kind.model
        return update(model).where(
            model.id == self.run_id, model.attempts == self.number, model.state == RunState.running
        )

    def _write(self, session: Session, values: dict[str, Any], rows: tuple = ()) -> bool:
        if not rows_changed(session, self._fenced().values(**values)):
            session.rollback()
            self.mark_lost("the run is no longer this attempt's")
            return False
        session.add_all(rows)
        session.commit()
        return True

    def update(self, **values: Any) -> bool:
        """Write values to the run if it is still this attempt's; no retry (the next write supersedes it)."""
        with self.sessions() as session:
            return self._write(session, values)

    def record(self, *rows: Any, **values: Any) -> bool:
        """Insert child rows (steps, screenshots) and update the run, together and fenced, with retries."""

        def write() -> bool:
            with self.sessions() as session:
                return self._write(session, values, rows)

        return retry_db(write, f"record on run {self.run_id}")

    def finish(self, state: str, error: dict | None = None, *, rows: tuple = (), **values: Any) -> Outcome:
        """Settle the run with its verdict (and insert rows that come with it), unless another attempt owns it."""
        if self.lost.is_set() and state == RunState.stopped and not self._stop_was_asked():
            state, error = RunState.error, dict(LOST)  # stopped by losing the run, not by a user
        values |= {"state": state, "finished_at": utcnow(), "error": error}

        def write() -> Outcome:
            with self.sessions() as session:
                if self._write(session, values, rows):
                    return Outcome(state)
                run = session.get(self.kind.model, self.run_id)
                return Outcome(run.state if run else "skipped", "another attempt owns the run")

        self.outcome = retry_db(write, f"save result of run {self.run_id}")
        return self.outcome

    def requeue(self) -> None:
        """Give the run back to the queue (the task retries it later), if it is still this attempt's."""

        def write() -> bool:
            with self.sessions() as session:
                return self._write(session, {"state": RunState.queued, "started_at": None})

        retry_db(write, f"requeue run {self.run_id}")
        self.outcome = Outcome(RunState.queued)

    def _stop_was_asked(self) -> bool:
        try:
            return stop_requested(self.redis, self.run_id)
        except Exception:  # Redis away: the heartbeat decides whether the run is lost
            log.warning("stop flag of run %s unreadable", self.run_id, exc_info=True)
            return False

    # --- claim --------------------------------------------------------------------------

    def claim(self, prepare: Callable[[Any, Any], T]) -> None:
        """Mark the run running as the next attempt, or settle it if it must not start; one transaction."""
        kind = self.kind
        with self.sessions() as session:
            run = session.get(kind.model, self.run_id)
            if run is None:
                self.outcome = Outcome("skipped", "run no longer exists")
                return
            if run.state not in ACTIVE_STATES:
                self.outcome = Outcome(run.state, "run already settled")
                return
            seen = {"state": run.state, "attempts": run.attempts}
            target_id = getattr(run, kind.target_column.key)
            target = session.get(kind.target_model, target_id) if target_id else None
            try:
                if stop_requested(self.redis, run.id):
                    raise Refuse(RunState.stopped)
                if target is None:
                    raise Refuse(RunState.error, kind.target_deleted)
                if run.state == RunState.running and run.attempts >= MAX_ATTEMPTS:
                    raise Refuse(RunState.error, dict(WORKER_LOST))  # every execution died holding it
                claimed = prepare(run, target)
            except Refuse as refusal:
                values = {"state": refusal.state, "finished_at": utcnow(), "error": refusal.error}
                self._settle_seen(session, seen, values)
                return
            number = run.attempts + 1
            claim = {"state": RunState.running, "attempts": number, "started_at": utcnow(), "heartbeat_at": utcnow()}
            claim |= {"finished_at": None, "error": None}
            if not self._settle_seen(session, seen, claim, commit=False):
                return
            for child in kind.children:  # a retried run starts over
                session.execute(child.__table__.delete().where(child.run_id == run.id))
            session.commit()
            self.number, self.claimed = number, claimed

    def _settle_seen(self, session: Session, seen: dict, values: dict, commit: bool = True) -> bool:
        """Write values if the run is still as it was read (the reaper or a stop may have moved it)."""
        model = self.kind.model
        query = update(model).where(model.id == self.run_id, model.state == seen["state"])
        changed = rows_changed(session, query.where(model.attempts == seen["attempts"]).values(**values))
        if not changed:
            session.rollback()
            self.outcome = Outcome("skipped", "the run changed while it was being claimed")
            return False
        if commit:
            session.commit()
            self.outcome = Outcome(values["state"])
        return True


class Heartbeat:
    """While an attempt executes: refresh its lock and its heartbeat_at so the reaper leaves it alone.

    A background thread, so a step that blocks (a slow page, Locust starting) never lets the lock lapse.
    The attempt is lost, and told to stop, when its lock belongs to someone else, when no refresh
    succeeded for the lock's whole lifetime, or when the run row is no longer this attempt's.
    """

    def __init__(self, attempt: Attempt, lock: RunLock, interval_s: float = HEARTBEAT_INTERVAL_S):
        self.attempt, self.lock, self.interval_s = attempt, lock, interval_s
        self._last_refresh = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"heartbeat-{attempt.run_id}", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=self.interval_s + 5)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.beat()

    def beat(self) -> None:
        if self.attempt.outcome is not None:  # settled or requeued: nothing left to keep alive
            return
        try:
            if not self.lock.refresh():
                self.attempt.mark_lost("its lock lapsed or another worker holds it")
            self._last_refresh = time.monotonic()
        except Exception:  # Redis briefly away: the lock's TTL spans several beats
            log.warning("lock refresh of run %s failed", self.attempt.run_id, exc_info=True)
            if time.monotonic() - self._last_refresh >= self.lock.ttl_s:
                self.attempt.mark_lost("its lock could not be refreshed for its whole lifetime")
        try:
            self.attempt.update(heartbeat_at=utcnow())
        except Exception:  # a missed beat is tolerated; the reaper also requires the lock to be gone
            log.warning("heartbeat of run %s failed", self.attempt.run_id, exc_info=True)


@contextmanager
def run_attempt(
    kind: RunKind,
    run_id: str,
    *,
    sessions: sessionmaker,
    redis: Redis,
    prepare: Callable[[Any, Any], T],
    lock_wait_s: float = LOCK_WAIT_S,
    heartbeat_interval_s: float = HEARTBEAT_INTERVAL_S,
) -> Iterator[Attempt[T]]:
    """Lock, claim (or refuse), heartbeat and fence one execution of a run; settle it if the body fails.

    prepare(run, target) runs inside the claim's transaction and returns what the body needs
    (the script, the locustfile, ...); it raises Refuse to settle the run instead. A SoftTimeLimitExceeded
    is the time limit, or a stop the run did not notice (the API interrupts the task with SIGUSR1): the
    stop flag tells them apart; a stop is settled as `stopped` and not raised again.
    """
    attempt: Attempt[T] = Attempt(kind, run_id, sessions, redis)
    lock = RunLock(redis, run_id)
    if not lock.acquire_or_wait(lock_wait_s):
        attempt.outcome = Outcome("skipped", "another delivery of this run is executing it")
        yield attempt
        return
    try:
        retry_db(lambda: attempt.claim(prepare), f"start run {run_id}")
        if attempt.refused:
            yield attempt
            return
        with Heartbeat(attempt, lock, heartbeat_interval_s):
            try:
                yield attempt
            except SoftTimeLimitExceeded:
                if attempt._stop_was_asked():
                    attempt.finish(RunState.stopped)
                    return
                attempt.finish(RunState.error, dict(TIMED_OUT))
                raise
            except Exception as exc:
                if attempt.outcome is None:  # the body neither settled nor requeued the run
                    log.exception("run %s crashed", run_id)
                    attempt.finish(RunState.error, crash_error(exc))
                raise
    finally:
        try:
            lock.release()
        except Exception:  # Redis away: the lock expires by itself
            log.warning("could not release the lock of run %s", run_id, exc_info=True)
