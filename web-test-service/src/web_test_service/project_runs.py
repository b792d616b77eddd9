"""Project runs, the API side: start a project (or a suite of it) as child runs, read their live state, stop.

A project run is a row (models.ProjectRun) and one child Run per test of the suites it runs, all inserted in
one transaction. Each sequential suite is one lane, a task that runs its tests in order in one worker slot
(lanes.py); each test of a `parallel` suite is a lane of its own, so suites, and parallel tests, spread over
the workers' browser slots. A lane's children share its task id: the reaper (shared/runs/reaper.py) then sees
their message while it is queued or running, and sends a child on its own only when the lane's is lost.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import regex
from celery import Celery
from redis import Redis
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, load_only, sessionmaker

from shared import names
from shared.auth import User, load_owned
from shared.config import SOFT_LIMIT_MARGIN_S
from shared.db import new_id, rows_changed, utcnow
from shared.errors import ServiceUnavailable, Unprocessable
from shared.runs.api import STOP_GRACE_S
from shared.runs.model import celery_priority, task_time_limits
from shared.runs.states import ACTIVE_STATES, TERMINAL_STATES, RunState
from shared.runs.stop import request_stop
from web_test_service.models import Project, ProjectRun, Run, Script
from web_test_service.schemas import ProjectRunRequest, ProjectRunSummary

# How long a `filter` may take on one test name: a pattern that backtracks for longer is refused (422).
FILTER_TIMEOUT_S = 0.2
# The worst child decides a finished project run's state.
SEVERITY = (RunState.passed, RunState.stopped, RunState.failed, RunState.error)
UNRUNNABLE = "unrunnable"


# --- what a run runs ------------------------------------------------------------------------


def _name_filter(pattern: str | None):
    """The `filter` as a predicate on test names (a regex searched in the name, as side-runner's --filter)."""
    if not pattern:
        return lambda _name: True
    try:
        compiled = regex.compile(pattern)
    except regex.error as exc:
        raise _invalid("filter", f"is not a regular expression: {exc}") from None

    def matches(name: str) -> bool:
        try:
            return compiled.search(name, timeout=FILTER_TIMEOUT_S) is not None
        except TimeoutError:
            raise _invalid("filter", f"took more than {FILTER_TIMEOUT_S} s on test {name!r}") from None

    return matches


def _invalid(field: str, message: str) -> Unprocessable:
    return Unprocessable(f"{field}: {message}", details=[{"field": field, "message": message}])


def selected_suites(project: Project, scripts: list[Script], request: ProjectRunRequest) -> list[dict[str, Any]]:
    """The suites the run runs, in project order, with the tests `filter` keeps; 422 if none is left.

    Each is {name, parallel, persist_session, timeout_ms, tests: [{script_id, name}]}, as ProjectRun.suites.
    """
    by_id = {script.id: script for script in scripts}
    suites = [suite for suite in project.suites if request.suite is None or suite["name"] == request.suite]
    if not project.suites and request.suite is None:  # as selenium-side-runner: then every test, in order
        suites = [all_tests_suite(project, scripts)]
    if request.suite is not None and not suites:
        known = ", ".join(repr(suite["name"]) for suite in project.suites) or "none"
        raise _invalid("suite", f"the project has no suite {request.suite!r} (its suites: {known})")
    keep = _name_filter(request.filter)
    chosen = []
    for suite in suites:
        tests = [by_id[i] for i in suite["script_ids"] if i in by_id]
        kept = [{"script_id": script.id, "name": script.name} for script in tests if keep(script.name)]
        if kept:
            chosen.append({key: suite[key] for key in ("name", "parallel", "persist_session", "timeout_ms")})
            chosen[-1]["tests"] = kept
    if not chosen:
        raise _invalid("filter" if request.filter else "suite", "no test of the project's suites is selected")
    return chosen


def all_tests_suite(project: Project, scripts: list[Script]) -> dict[str, Any]:
    """A project without suites runs all its tests, in order, as one plain suite named after the project."""
    timeout_ms = max((script.timeout_ms for script in scripts), default=0)
    script_ids = [script.id for script in scripts]
    return {"name": project.name, "parallel": False, "persist_session": False, "timeout_ms": timeout_ms,
            "script_ids": script_ids}  # fmt: skip


# --- starting -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Lane:
    """One task of a project run: the tests it runs in order (positions in a suite), under one task id."""

    suite_index: int
    positions: list[int]
    task_id: str
    time_limit_s: int


def lanes_of(suites: list[dict[str, Any]], retries: int, budget_s: int) -> list[Lane]:
    """A lane per sequential suite, one per test of a parallel suite.

    Its time limit covers every attempt of its tests, up to the lane budget (a lane that would go on longer
    hands the rest of its tests to a new task: lanes.py).
    """
    lanes = []
    for index, suite in enumerate(suites):
        positions = list(range(len(suite["tests"])))
        groups = [[position] for position in positions] if suite["parallel"] else [positions]
        lanes += [new_lane(index, group, suite, retries, budget_s) for group in groups]
    return lanes


def new_lane(suite_index: int, positions: list[int], suite: dict[str, Any], retries: int, budget_s: int) -> Lane:
    """A lane of the suite's tests at positions, with a fresh task id and a limit for all their attempts."""
    per_test_s = (-(-suite["timeout_ms"] // 1000) + SOFT_LIMIT_MARGIN_S) * (retries + 1)
    return Lane(suite_index, positions, uuid.uuid4().hex, min(per_test_s * len(positions), budget_s))


def continue_lane(
    sessions: sessionmaker, celery: Celery, project_run_id: str, suite_index: int, positions: list[int], budget_s: int
) -> None:
    """Send the rest of a lane (its tests at positions, in order) as a new task; its waiting children follow it.

    The children's task id changes before the message is sent: if sending fails, the reaper finds them
    without a message and sends each on its own.
    """
    with sessions() as session:
        project_run = session.get(ProjectRun, project_run_id)
        if project_run is None:
            return
        suite, retries = project_run.suites[suite_index], int(project_run.params.get("retries") or 0)
        lane = new_lane(suite_index, positions, suite, retries, budget_s)
        rest = (Run.project_run_id == project_run_id, Run.suite_index == suite_index, Run.position.in_(positions))
        session.execute(update(Run).where(*rest, Run.state == RunState.queued).values(task_id=lane.task_id))
        session.commit()
        _send_lane(celery, project_run, lane, int(project_run.params.get("priority", 5)))


def start_project_run(
    *,
    session: Session,
    celery: Celery,
    project: Project,
    scripts: list[Script],
    request: ProjectRunRequest,
    lane_budget_s: int,
) -> ProjectRun:
    """Insert the project run and a child run per selected test (one transaction), then send its lanes.

    A test that is not runnable is settled at once as `error` (no browser starts for it). If the broker is
    down, every child that was to run is settled as error and the answer is a 503.
    """
    suites = selected_suites(project, scripts, request)
    by_id = {script.id: script for script in scripts}
    project_run = ProjectRun(
        id=new_id(),
        owner=project.owner,
        project_id=project.id,
        project_name=project.name,
        state=RunState.queued,
        params=request.model_dump(),
        suites=suites,
    )
    lanes = lanes_of(suites, request.retries, lane_budget_s)
    task_of = {(lane.suite_index, p): lane.task_id for lane in lanes for p in lane.positions}
    children = [
        _child(project_run, by_id[test["script_id"]], request, suite, index, position, task_of[index, position])
        for index, suite in enumerate(suites)
        for position, test in enumerate(suite["tests"])
    ]
    session.add(project_run)
    session.flush()  # the project run's row before the children that reference it
    session.add_all(children)
    session.commit()
    runnable = {(run.suite_index, run.position) for run in children if run.state == RunState.queued}
    try:
        for lane in lanes:
            if any((lane.suite_index, p) in runnable for p in lane.positions):
                _send_lane(celery, project_run, lane, request.priority)
    except Exception as exc:
        _settle_unsent(session, project_run, exc)
        raise ServiceUnavailable("the broker is not reachable; retry shortly", code="broker_unavailable") from None
    return project_run  # its state (stored at once if no test could run) comes with project_run_detail


def _child(
    project_run: ProjectRun,
    script: Script,
    request: ProjectRunRequest,
    suite: dict,
    suite_index: int,
    position: int,
    task_id: str,
) -> Run:
    run = Run(
        id=new_id(),
        owner=project_run.owner,
        script_id=script.id,
        script_name=script.name,
        priority=request.priority,
        time_limit_s=-(-suite["timeout_ms"] // 1000),
        base_url=request.base_url or script.base_url,
        variables=request.variables,
        progress_total=len(script.commands),
        project_run_id=project_run.id,
        suite_index=suite_index,
        position=position,
        attempt=1,
        attempts=0,
        state=RunState.queued,
        task_id=task_id,
    )
    if script.unrunnable:  # reported as an error testcase; no browser starts for it
        reason = script.unrunnable
        run.state, run.task_id, run.finished_at = RunState.error, None, utcnow()
        run.error = {"code": UNRUNNABLE, "message": f"{reason['field']}: {reason['message']}"}
    return run


def _send_lane(celery: Celery, project_run: ProjectRun, lane: Lane, priority: int) -> None:
    celery.send_task(
        names.WEB_RUN_LANE,
        args=[project_run.id, lane.suite_index, lane.positions],
        task_id=lane.task_id,
        priority=celery_priority(priority),
        **task_time_limits(lane.time_limit_s),
    )


def _settle_unsent(session: Session, project_run: ProjectRun, exc: Exception) -> None:
    """The broker refused a lane: settle every queued child (none may wait for a message that never comes)."""
    session.rollback()
    error = {"code": "broker_unavailable", "message": f"could not enqueue: {exc.__class__.__name__}"}
    queued = (Run.project_run_id == project_run.id, Run.state == RunState.queued)
    session.execute(update(Run).where(*queued).values(state=RunState.error, finished_at=utcnow(), error=error))
    session.commit()
    refresh_state(session, project_run)


# --- reading --------------------------------------------------------------------------------

CHILD_COLUMNS = (
    Run.id,
    Run.state,
    Run.script_id,
    Run.script_name,
    Run.suite_index,
    Run.position,
    Run.attempt,
    Run.flaky,
    Run.created_at,
    Run.started_at,
    Run.finished_at,
    Run.error,
)


def children_of(session: Session, project_run_id: str) -> list[Run]:
    """Every child run (every attempt) in suite, position and attempt order; one query, no steps."""
    query = (
        select(Run)
        .options(load_only(*CHILD_COLUMNS))
        .where(Run.project_run_id == project_run_id)
        .order_by(Run.suite_index, Run.position, Run.attempt)
    )
    return list(session.execute(query).scalars())


def attempts_by_test(children: list[Run]) -> dict[tuple[int, int], list[Run]]:
    """(suite index, position) -> the test's attempts, first to last."""
    grouped: dict[tuple[int, int], list[Run]] = {}
    for run in children:
        grouped.setdefault((run.suite_index or 0, run.position or 0), []).append(run)
    return grouped


def state_of(latest: list[str]) -> RunState:
    """A project run's state from its tests' latest attempts: the worst finished one once all are finished."""
    if any(state == RunState.running for state in latest):
        return RunState.running
    if any(state == RunState.queued for state in latest):
        return RunState.queued if all(state == RunState.queued for state in latest) else RunState.running
    return max((RunState(state) for state in latest), key=SEVERITY.index, default=RunState.passed)


def refresh_state(session: Session, project_run: ProjectRun, children: list[Run] | None = None) -> RunState:
    """The project run's state from its children; stored (with finished_at) once they are all finished.

    A live state is only returned, never set on the row: a request that read the row while it ran must not
    write "running" back over the verdict a lane or a stop stored meanwhile. A stored verdict is final, so a
    list of finished runs loads no children.
    """
    if project_run.finished_at is not None:
        return RunState(project_run.state)
    children = children_of(session, project_run.id) if children is None else children
    latest = [attempts[-1].state for attempts in attempts_by_test(children).values()]
    state = state_of(latest)
    if state in TERMINAL_STATES and project_run.finished_at is None:
        finished = max((run.finished_at for run in children if run.finished_at), default=utcnow())
        values = {"state": state, "finished_at": finished}
        unsettled = (ProjectRun.id == project_run.id, ProjectRun.finished_at.is_(None))
        rows_changed(session, update(ProjectRun).where(*unsettled).values(**values))
        session.commit()
        session.refresh(project_run)
    return RunState(project_run.state) if project_run.finished_at is not None else state


def get_project_run(*, session: Session, user: User, project_run_id: str, write: bool = False) -> ProjectRun:
    """A project run the user may read (or stop); 404 otherwise."""
    return load_owned(session, ProjectRun, project_run_id, user, "project run", write=write)


def project_run_detail(session: Session, project_run: ProjectRun) -> dict[str, Any]:
    """The project run as ProjectRunRead shows it: live state, counts, each suite with its tests' attempts."""
    children = children_of(session, project_run.id)
    state = refresh_state(session, project_run, children)
    tests = attempts_by_test(children)
    counts = {s.value: 0 for s in RunState} | {"flaky": 0}
    suites = []
    for index, suite in enumerate(project_run.suites):
        entries = []
        for position, test in enumerate(suite["tests"]):
            attempts = tests.get((index, position), [])
            latest = attempts[-1] if attempts else None
            entries.append({**test, "latest": latest, "attempts": attempts})
            if latest is not None:
                counts[latest.state] += 1
                counts["flaky"] += int(latest.flaky)
        suites.append(
            {**suite, "tests": entries, "state": state_of([t["latest"].state for t in entries if t["latest"]])}
        )
    started = [run.started_at for run in children if run.started_at]
    return summary(project_run, state) | {
        "counts": counts,
        "total": sum(len(suite["tests"]) for suite in project_run.suites),
        "started_at": min(started, default=None),
        "suites": suites,
    }


def summary(project_run: ProjectRun, state: RunState) -> dict[str, Any]:
    """The project run as ProjectRunSummary shows it, with its current state."""
    return {field: getattr(project_run, field) for field in ProjectRunSummary.model_fields} | {"state": state}


# --- stopping -------------------------------------------------------------------------------


def stop_project_run(*, session: Session, redis: Redis, celery: Celery, project_run: ProjectRun) -> ProjectRun:
    """Stop every child: queued ones at once, running ones by their stop flag, then by interrupting their task.

    stop_requested_at is set first, so a lane creates no retry after it; a running child that has not
    settled within STOP_GRACE_S has its lane interrupted (SIGUSR1), which settles it as stopped.
    """
    session.execute(
        update(ProjectRun)
        .where(ProjectRun.id == project_run.id, ProjectRun.stop_requested_at.is_(None))
        .values(stop_requested_at=utcnow())
    )
    session.commit()
    active = [run for run in children_of(session, project_run.id) if run.state in ACTIVE_STATES]
    for run in active:
        request_stop(redis, run.id)
    queued = [run.id for run in active if run.state == RunState.queued]
    if queued:
        still_queued = (Run.id.in_(queued), Run.state == RunState.queued)
        session.execute(update(Run).where(*still_queued).values(state=RunState.stopped, finished_at=utcnow()))
        session.commit()
    for task_id in {run.task_id for run in active if run.task_id}:
        celery.control.revoke(task_id)  # a lane not started yet is discarded when it arrives
    if not _children_settle(session, project_run.id, STOP_GRACE_S):
        running = [run for run in children_of(session, project_run.id) if run.state in ACTIVE_STATES]
        for task_id in {run.task_id for run in running if run.task_id}:
            celery.control.revoke(task_id, terminate=True, signal="SIGUSR1")
    refresh_state(session, project_run)
    return project_run


def stopping(session: Session | None, project_run_id: str) -> bool:
    """Whether the project run is being stopped (no attempt of it may start or be added)."""
    project_run = session.get(ProjectRun, project_run_id) if session is not None else None
    return project_run is not None and project_run.stop_requested_at is not None


def has_active_children(session: Session, project_run_id: str) -> bool:
    """Whether a test of the project run is still queued or running: one indexed lookup, no rows loaded."""
    active = [state.value for state in ACTIVE_STATES]
    query = select(Run.id).where(Run.project_run_id == project_run_id, Run.state.in_(active)).limit(1)
    return session.execute(query).first() is not None


def _children_settle(session: Session, project_run_id: str, timeout_s: float) -> bool:
    """Poll until no child is queued or running, or timeout_s passes."""
    deadline = time.monotonic() + timeout_s
    while has_active_children(session, project_run_id):
        session.commit()  # end the read, so the next one sees the workers' commits
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)
    return True


# --- retention ------------------------------------------------------------------------------


def delete_emptied_project_runs(session: Session, cutoff: datetime) -> dict[str, int]:
    """After the retention cleanup deleted old runs: delete the project runs from before cutoff left without any."""
    has_child = select(Run.id).where(Run.project_run_id == ProjectRun.id).exists()
    emptied = delete(ProjectRun).where(ProjectRun.created_at < cutoff, ~has_child)
    deleted = rows_changed(session, emptied)
    session.commit()
    return {"project_runs": deleted}
