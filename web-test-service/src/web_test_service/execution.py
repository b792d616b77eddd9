"""Run one queued web run to its verdict: the plain function behind the Celery task."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from redis import Redis
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from shared.db import utcnow
from shared.runs import ACTIVE_STATES, RunLock, RunState, stop_requested
from web_test_service.models import Run, Screenshot, Script, Step
from web_test_service.runner import RunResult, StepResult, run_script
from web_test_service.runner.driver import BrowserStartError
from web_test_service.service import resolve_in_project

log = logging.getLogger(__name__)
HEARTBEAT_INTERVAL_S = 5.0


class BrowserUnavailable(Exception):
    """The browser could not start: the task retries the run with backoff."""


@dataclass
class Outcome:
    state: str
    skipped_reason: str | None = None  # why nothing ran (duplicate delivery, already settled, ...)


class Heartbeat:
    """While a run executes: refresh its lock and its heartbeat_at so the reaper leaves it alone."""

    def __init__(self, sessions: sessionmaker, run_id: str, lock: RunLock):
        self.sessions, self.run_id, self.lock = sessions, run_id, lock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"heartbeat-{run_id}", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._beat()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=HEARTBEAT_INTERVAL_S + 5)

    def _loop(self) -> None:
        while not self._stop.wait(HEARTBEAT_INTERVAL_S):
            self._beat()

    def _beat(self) -> None:
        try:
            self.lock.refresh()
            with self.sessions() as session:
                session.execute(update(Run).where(Run.id == self.run_id).values(heartbeat_at=utcnow()))
                session.commit()
        except Exception:  # a missed beat is tolerated; the reaper allows several
            log.warning("heartbeat of run %s failed", self.run_id, exc_info=True)


def execute_run(
    run_id: str,
    *,
    sessions: sessionmaker,
    redis: Redis,
    driver_factory: Callable,
    is_last_attempt: bool = True,
) -> Outcome:
    """Execute a queued run once; save each step as it happens and the verdict at the end."""
    lock = RunLock(redis, run_id, ttl_s=int(HEARTBEAT_INTERVAL_S * 6))
    if not lock.acquire():
        return Outcome("skipped", "another delivery of this run is executing it")
    try:
        with sessions() as session:
            run = session.get(Run, run_id)
            if run is None:
                return Outcome("skipped", "run no longer exists")
            if run.state not in ACTIVE_STATES:
                return Outcome(run.state, "run already settled")
            script = session.get(Script, run.script_id) if run.script_id else None
            if stop_requested(redis, run_id):
                return _settle(session, run, RunState.stopped, None)
            if script is None:
                return _settle(session, run, RunState.error, {"code": "script_deleted", "message": "script deleted"})
            run.state, run.started_at, run.attempts = RunState.running, utcnow(), run.attempts + 1
            run.heartbeat_at, run.progress_current, run.finished_at = utcnow(), 0, None
            session.execute(Step.__table__.delete().where(Step.run_id == run_id))  # a retried run starts over
            session.execute(Screenshot.__table__.delete().where(Screenshot.run_id == run_id))
            session.commit()
            script_data = {"commands": script.commands, "timeout_ms": script.timeout_ms, "name": script.name}
            resolve = resolve_in_project(session=session, script=script)
            base_url, variables = run.base_url, dict(run.variables or {})

            recorder = StepRecorder(sessions, run_id)
            try:
                with Heartbeat(sessions, run_id, lock):
                    result = run_script(
                        script_data,
                        driver_factory,
                        base_url=base_url or None,
                        variables=variables,
                        on_step=recorder,
                        should_stop=lambda: stop_requested(redis, run_id),
                        timeout_ms=script.timeout_ms,
                        resolve_test=resolve,
                    )
            except BrowserStartError as exc:
                # Infrastructure, not the script: the task retries with backoff, then gives up.
                if not is_last_attempt:
                    _requeue(session, run_id)
                    raise BrowserUnavailable(str(exc)) from exc
                session.rollback()
                run = session.get(Run, run_id)
                return _settle(session, run, RunState.error, {"code": "browser_unavailable", "message": str(exc)})
            return _save_result(session, run_id, result)
    finally:
        lock.release()


class StepRecorder:
    """on_step callback: one committed row per step, so /status shows it at once."""

    def __init__(self, sessions: sessionmaker, run_id: str):
        self.sessions, self.run_id, self.seq = sessions, run_id, 0

    def __call__(self, step: StepResult) -> None:
        with self.sessions() as session:
            session.add(
                Step(
                    run_id=self.run_id,
                    seq=self.seq,
                    index=step.index,
                    command=step.command,
                    target=step.target,
                    value=step.value,
                    state=step.state,
                    duration_ms=step.duration_ms,
                    error=step.message,
                    has_screenshot=step.screenshot is not None,
                )
            )
            if step.screenshot is not None:
                session.add(Screenshot(run_id=self.run_id, seq=self.seq, png=step.screenshot))
            session.execute(update(Run).where(Run.id == self.run_id).values(progress_current=step.index + 1))
            session.commit()
        self.seq += 1


def _requeue(session: Session, run_id: str) -> None:
    session.rollback()
    run = session.get(Run, run_id)
    run.state, run.started_at = RunState.queued, None
    session.commit()


def _settle(session: Session, run: Run, state: RunState, error: dict | None) -> Outcome:
    run.state, run.finished_at, run.error = state, utcnow(), error
    session.commit()
    return Outcome(state)


def _save_result(session: Session, run_id: str, result: RunResult) -> Outcome:
    session.rollback()
    run = session.get(Run, run_id)
    error = None
    if result.state != RunState.passed and result.message:
        code = {"failed": "assertion_failed", "error": "run_error", "stopped": "stopped"}.get(result.state, "run_error")
        error = {"code": code, "message": result.message}
    run.state, run.finished_at, run.error = result.state, utcnow(), error
    run.result = {
        "message": result.message,
        "failed_step": result.failed_step,
        "runner_duration_ms": result.duration_ms,
        "console_log": result.console_log[-500:],
        "echo_log": result.echo_log[-500:],
        "variables": result.variables,
    }
    session.commit()
    return Outcome(result.state)


def settle_after_crash(
    *, sessions: sessionmaker, run_id: str, code: str, message: str, state: RunState = RunState.error
) -> None:
    """Settle a run the task could not finish normally (time limit, forced stop, crash)."""
    with sessions() as session:
        run = session.get(Run, run_id)
        if run is not None and run.state in ACTIVE_STATES:
            error = None if state == RunState.stopped else {"code": code, "message": message[:2000]}
            _settle(session, run, state, error)
