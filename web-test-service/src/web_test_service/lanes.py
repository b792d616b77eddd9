"""Lanes, the worker side of a project run: run tests in order, retry a failed one at once, share a session.

A lane is the tests of one sequential suite, or one test of a parallel suite (project_runs.py). Each test is
a child run executed by execute_run like any run; a failed or errored one gets its next attempt (a new run
row, so every attempt stays visible) right after it, up to the project run's `retries`. A redelivered lane
goes on where the last one stopped: finished attempts are not run again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from redis import Redis
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from shared.config import SOFT_LIMIT_MARGIN_S
from shared.db import new_id
from shared.runs.states import ACTIVE_STATES, RunState
from web_test_service.execution import execute_run
from web_test_service.models import ProjectRun, Run
from web_test_service.project_runs import UNRUNNABLE, has_active_children, refresh_state, stopping
from web_test_service.runner.persistent_session import PersistentSession

RETRIED_STATES = (RunState.failed, RunState.error)


@dataclass
class LaneWorker:
    """What a lane task runs its tests with: the worker's resources, its task id, and its time budget.

    budget_s bounds the task (lane_budget_s): before an attempt that might not finish within it, the lane
    hands its remaining tests over to a new task (hand_over) and ends. Its first attempt always runs.
    """

    sessions: sessionmaker
    redis: Redis
    driver_factory: Callable
    task_id: str
    is_last_attempt: bool = True
    budget_s: float = float("inf")
    hand_over: Callable[[list[int]], None] | None = None


def run_lane(project_run_id: str, suite_index: int, positions: list[int], worker: LaneWorker) -> list[str]:
    """Run the lane's tests in order, each to its last attempt; return each test's final state.

    A persistSession suite's tests share one browser, closed when the lane ends however it ends.
    BrowserUnavailable (the browser cannot start yet) propagates with the test requeued, for the task to retry.
    """
    with worker.sessions() as session:
        project_run = session.get(ProjectRun, project_run_id)
        if project_run is None:  # deleted by the retention cleanup meanwhile
            return []
        suite, retries = project_run.suites[suite_index], int(project_run.params.get("retries") or 0)
    attempt_s = -(-suite["timeout_ms"] // 1000) + SOFT_LIMIT_MARGIN_S  # the longest one attempt may take
    deadline = time.monotonic() + worker.budget_s
    persistent = PersistentSession(worker.driver_factory) if suite["persist_session"] else None
    factory = persistent or worker.driver_factory
    states: list[str] = []
    first = True
    try:
        for index, position in enumerate(positions):
            place = (project_run_id, suite_index, position)
            while True:  # the test's pending attempt, then its retries while it fails
                with worker.sessions() as session:
                    run = latest_attempt(session, *place)
                if run is None:
                    break
                if run.state in ACTIVE_STATES:
                    if not first and time.monotonic() + attempt_s > deadline and worker.hand_over is not None:
                        worker.hand_over(positions[index:])
                        return states
                    first = False
                    execute_run(run.id, sessions=worker.sessions, redis=worker.redis, driver_factory=factory,
                                is_last_attempt=worker.is_last_attempt,
                                with_verdict=retry_with_verdict(worker, run.id, retries))  # fmt: skip
                with worker.sessions() as session:
                    final = next_attempt(session, run.id, retries, worker.task_id)
                if final is not None:
                    states.append(final)
                    break
    finally:
        if persistent is not None:
            persistent.close()
        with worker.sessions() as session:  # the last lane to end stores the verdict; the others look once
            project_run = session.get(ProjectRun, project_run_id)
            if project_run is not None and not has_active_children(session, project_run_id):
                refresh_state(session, project_run)
    return states


def retry_with_verdict(worker: LaneWorker, run_id: str, retries: int) -> Callable[[str, dict | None], tuple]:
    """execute_run's with_verdict for a test of a project run: its next attempt, when it fails and may retry.

    Saved in the verdict's transaction, so a project run read in between never looks finished while a retry
    is still to come.
    """

    def rows(state: str, error: dict | None) -> tuple:
        with worker.sessions() as session:
            attempt = session.get(Run, run_id)
            retry = retry_of(session, attempt, state, error, retries, worker.task_id) if attempt else None
        return (retry,) if retry is not None else ()

    return rows


def latest_attempt(session: Session, project_run_id: str, suite_index: int, position: int) -> Run | None:
    query = select(Run).where(
        Run.project_run_id == project_run_id, Run.suite_index == suite_index, Run.position == position
    )
    return session.execute(query.order_by(Run.attempt.desc()).limit(1)).scalar_one_or_none()


def next_attempt(session: Session, run_id: str, retries: int, task_id: str) -> str | None:
    """After an attempt: None when a next one is there to run (saved with the verdict, or inserted here after a
    crash); else the test's final state. A pass after a failed attempt is marked flaky.
    """
    run = session.get(Run, run_id)
    if run is None:
        return "skipped"
    if latest_attempt(session, run.project_run_id, run.suite_index, run.position).attempt > run.attempt:
        return None
    if run.state == RunState.passed and run.attempt > 1:
        session.execute(update(Run).where(Run.id == run.id).values(flaky=True))
        session.commit()
    retry = retry_of(session, run, run.state, run.error, retries, task_id)
    if retry is None:
        return run.state
    session.add(retry)
    session.commit()
    return None


def retry_of(session: Session, run: Run, state: str, error: dict | None, retries: int, task_id: str) -> Run | None:
    """The next attempt of a test whose attempt ends in state, or None: it passed, it has had its retries, the
    project run is being stopped, or it cannot run (it would fail the same way)."""
    retryable = state in RETRIED_STATES and (error or {}).get("code") != UNRUNNABLE
    if not retryable or run.attempt > retries:
        return None
    if session.get(ProjectRun, run.project_run_id) is None or stopping(session, run.project_run_id):
        return None
    fields = ("owner", "script_id", "script_name", "priority", "time_limit_s", "base_url", "variables",
              "progress_total", "project_run_id", "suite_index", "position")  # fmt: skip
    retry = Run(id=new_id(), **{f: getattr(run, f) for f in fields}, attempt=run.attempt + 1, attempts=0)
    retry.state, retry.task_id = RunState.queued, task_id
    return retry
