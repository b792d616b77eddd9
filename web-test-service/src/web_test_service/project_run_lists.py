"""Lists of project runs, newest first, each with the state it shows (project_runs.refresh_state)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, exists, func, select
from sqlalchemy.orm import Session, aliased

from shared.auth import User, owner_filter
from shared.pagination import page_args
from shared.runs.states import ACTIVE_STATES, TERMINAL_STATES, RunState
from web_test_service.models import ProjectRun, Run
from web_test_service.project_runs import refresh_state, summary


def project_runs_query(user: User, *, project_id: str | None = None, state: str | None = None):
    """Project runs the user may read, newest first; only those of a project, or in a state, if given.

    The state is the one the run shows (refresh_state); a run whose tests all finished is taken to have its
    verdict stored (list_project_runs settles those first).
    """
    query = owner_filter(select(ProjectRun), ProjectRun.owner, user)
    if project_id is not None:
        query = query.where(ProjectRun.project_id == project_id)
    if state is not None:
        query = query.where(_in_state(state))
    return query.order_by(ProjectRun.created_at.desc(), ProjectRun.id.desc())


def _in_state(state: str):
    """SQL: the project run is in state as state_of tells it from its tests' latest attempts.

    A finished run has its verdict stored. One that is not is running once a test's latest attempt has left
    `queued`, else queued: an earlier attempt is always finished (a retry is made after it), so the latest
    attempts that are not queued are the children not queued that no later attempt of their test follows.
    """
    if state in TERMINAL_STATES:
        return and_(ProjectRun.finished_at.is_not(None), ProjectRun.state == state)
    child, later = aliased(Run), aliased(Run)
    test = (later.project_run_id == child.project_run_id, later.suite_index == child.suite_index)
    retried = exists().where(*test, later.position == child.position, later.attempt > child.attempt)
    started = exists().where(child.project_run_id == ProjectRun.id, child.state != RunState.queued, ~retried)
    return and_(ProjectRun.finished_at.is_(None), started if state == RunState.running else ~started)


def settle_finished(session: Session, user: User, *, project_id: str | None = None) -> None:
    """Store the verdict of the user's project runs whose tests all finished but whose row does not say so yet.

    A lane stores it when its last test ends, but a test the reaper settled, or one sent alone after its lane
    was lost, ends without one: the verdict is then stored when the run is next read (refresh_state).
    """
    active = [state.value for state in ACTIVE_STATES]
    running_child = exists().where(Run.project_run_id == ProjectRun.id, Run.state.in_(active))
    query = owner_filter(select(ProjectRun), ProjectRun.owner, user).where(ProjectRun.finished_at.is_(None))
    if project_id is not None:
        query = query.where(ProjectRun.project_id == project_id)
    for project_run in session.execute(query.where(~running_child)).scalars().all():
        refresh_state(session, project_run)


def list_project_runs(
    *, session: Session, user: User, project_id: str | None = None, state: str | None = None
) -> dict[str, Any]:
    """A page of the project runs the user may read (ProjectRunList), newest first; of a project, in a state.

    With a state, the runs that finished unnoticed are settled first, so each one listed shows that state.
    """
    if state is not None:
        settle_finished(session, user, project_id=project_id)
    return history(session, project_runs_query(user, project_id=project_id, state=state))


def history(session: Session, query) -> dict[str, Any]:
    """A page of project runs (the request's limit and offset), each with its state brought up to date."""
    limit, offset = page_args()
    total = session.execute(select(func.count()).select_from(query.order_by(None).subquery())).scalar_one()
    rows = list(session.execute(query.limit(limit).offset(offset)).scalars())
    items = [summary(project_run, refresh_state(session, project_run)) for project_run in rows]
    return {"items": items, "total": total, "limit": limit, "offset": offset}
