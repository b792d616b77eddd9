"""Run one queued web run to its verdict: the plain function behind the Celery task."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from redis import Redis
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from shared.db import utcnow
from shared.run_execution import LOCK_WAIT_S, holding_run_lock, refuse_to_start, settle_if_active
from shared.runs import ACTIVE_STATES, Heartbeat, RunState, retry_db, stop_requested
from web_test_service.models import Run, Screenshot, Script, Step
from web_test_service.runner import RunResult, StepResult, run_script
from web_test_service.runner.driver import BrowserStartError
from web_test_service.service import resolve_in_project

log = logging.getLogger(__name__)


class BrowserUnavailable(Exception):
    """The browser could not start: the task retries the run with backoff."""


@dataclass
class Outcome:
    state: str
    skipped_reason: str | None = None  # why nothing ran (duplicate delivery, already settled, ...)


@dataclass
class _Claimed:
    script: Script
    script_data: dict
    base_url: str | None
    variables: dict


def execute_run(
    run_id: str,
    *,
    sessions: sessionmaker,
    redis: Redis,
    driver_factory: Callable,
    is_last_attempt: bool = True,
    lock_wait_s: float = LOCK_WAIT_S,
) -> Outcome:
    """Execute a queued run once; save each step as it happens and the verdict at the end.

    The run's lock is taken first (see holding_run_lock). Every database write is retried through a
    short outage.
    """
    with holding_run_lock(redis, run_id, lock_wait_s) as lock:
        if lock is None:
            return Outcome("skipped", "another delivery of this run is executing it")
        claimed = retry_db(lambda: _claim(sessions, redis, run_id), f"start run {run_id}")
        if isinstance(claimed, Outcome):
            return claimed
        recorder = StepRecorder(sessions, run_id)
        try:
            with Heartbeat(sessions, Run, run_id, lock):
                result = run_script(
                    claimed.script_data,
                    driver_factory,
                    base_url=claimed.base_url or None,
                    variables=claimed.variables,
                    on_step=recorder,
                    should_stop=lambda: stop_requested(redis, run_id),
                    timeout_ms=claimed.script_data["timeout_ms"],
                    resolve_test=resolve_in_project(sessions=sessions, script=claimed.script),
                )
        except BrowserStartError as exc:
            # Infrastructure, not the script: the task retries with backoff, then gives up.
            if not is_last_attempt:
                retry_db(lambda: _requeue(sessions, run_id), f"requeue run {run_id}")
                raise BrowserUnavailable(str(exc)) from exc
            error = {"code": "browser_unavailable", "message": str(exc)}
            return Outcome(settle_if_active(sessions, Run, run_id, RunState.error, error))
        return retry_db(lambda: _save_result(sessions, run_id, result), f"save result of run {run_id}")


def _claim(sessions: sessionmaker, redis: Redis, run_id: str) -> _Claimed | Outcome:
    """Mark the run running (or settle it if it cannot run); one transaction, safe to repeat."""
    with sessions() as session:
        run = session.get(Run, run_id)
        if run is None:
            return Outcome("skipped", "run no longer exists")
        if run.state not in ACTIVE_STATES:
            return Outcome(run.state, "run already settled")
        script = session.get(Script, run.script_id) if run.script_id else None
        refused = refuse_to_start(session, redis, run, script, "script_deleted")
        if refused:
            return Outcome(refused)
        run.state, run.started_at, run.attempts = RunState.running, utcnow(), run.attempts + 1
        run.heartbeat_at, run.progress_current, run.finished_at = utcnow(), 0, None
        session.execute(Step.__table__.delete().where(Step.run_id == run_id))  # a retried run starts over
        session.execute(Screenshot.__table__.delete().where(Screenshot.run_id == run_id))
        session.commit()
        script_data = {"commands": script.commands, "timeout_ms": script.timeout_ms, "name": script.name}
        claimed = _Claimed(script, script_data, run.base_url, dict(run.variables or {}))
        session.expunge(script)
        return claimed


class StepRecorder:
    """on_step callback: one committed row per step, so /status shows it at once."""

    def __init__(self, sessions: sessionmaker, run_id: str):
        self.sessions, self.run_id, self.seq = sessions, run_id, 0

    def __call__(self, step: StepResult) -> None:
        retry_db(lambda: self._save(step), f"save step {self.seq} of run {self.run_id}")
        self.seq += 1

    def _save(self, step: StepResult) -> None:
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


def _requeue(sessions: sessionmaker, run_id: str) -> None:
    with sessions() as session:
        run = session.get(Run, run_id)
        run.state, run.started_at = RunState.queued, None
        session.commit()


def _save_result(sessions: sessionmaker, run_id: str, result: RunResult) -> Outcome:
    with sessions() as session:
        return _save_result_in(session, run_id, result)


def _save_result_in(session: Session, run_id: str, result: RunResult) -> Outcome:
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
