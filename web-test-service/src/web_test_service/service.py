"""Scripts and runs: the plain functions behind the views (no Flask request inside)."""

from __future__ import annotations

from typing import Any

from celery import Celery
from redis import Redis
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from shared import names, run_service
from shared.auth import User, check_readable, check_writable, owner_filter
from shared.errors import Conflict, NotFound
from shared.runs import RunState, iso, new_id
from web_test_service.models import Run, Screenshot, Script, Step
from web_test_service.schemas import RunRequest, ScriptCreate

API = "/api/v1/web-test"


# --- scripts --------------------------------------------------------------------------------


def script_to_dict(script: Script) -> dict[str, Any]:
    return {
        "id": script.id,
        "owner": script.owner,
        "name": script.name,
        "base_url": script.base_url,
        "commands": script.commands,
        "timeout_ms": script.timeout_ms,
        "project_id": script.project_id,
        "project_name": script.project_name,
        "suites": script.suites or [],
        "created_at": iso(script.created_at),
        "updated_at": iso(script.updated_at),
    }


def scripts_query(user: User):
    """Scripts the user may read, in a stable order."""
    return owner_filter(select(Script), Script.owner, user).order_by(Script.created_at, Script.position, Script.id)


def get_script(*, session: Session, user: User, script_id: str, write: bool = False) -> Script:
    """Load a script the user may read (or change); 404 otherwise."""
    script = session.get(Script, script_id)
    if script is None:
        raise NotFound(f"script {script_id} not found")
    (check_writable if write else check_readable)(user, script.owner, "script")
    return script


def create_script(*, session: Session, user: User, data: ScriptCreate, **extra: Any) -> Script:
    """Insert a script owned by the user."""
    script = Script(
        owner=user.id,
        name=data.name,
        base_url=data.base_url,
        commands=data.command_dicts(),
        timeout_ms=data.timeout_ms,
        suites=[],
        **extra,
    )
    session.add(script)
    return script


def replace_script(*, session: Session, user: User, script_id: str, data: ScriptCreate) -> Script:
    script = get_script(session=session, user=user, script_id=script_id, write=True)
    script.name, script.base_url = data.name, data.base_url
    script.commands, script.timeout_ms = data.command_dicts(), data.timeout_ms
    return script


def delete_script(*, session: Session, user: User, script_id: str) -> None:
    """Delete a script; 409 while it has an active run (stop it first). Its runs stay in history."""
    script = get_script(session=session, user=user, script_id=script_id, write=True)
    if active_run(session=session, script_id=script.id) is not None:
        raise Conflict("the script has an active run; stop it first")
    session.delete(script)


def import_scripts(*, session: Session, user: User, project_name: str, scripts: list[ScriptCreate],
                   suites: list[list[str]]) -> list[Script]:  # fmt: skip
    """Insert every test of a .side project under one project_id, keeping suite order."""
    project_id = new_id()
    created = []
    for position, (data, script_suites) in enumerate(zip(scripts, suites, strict=True)):
        created.append(
            create_script(
                session=session,
                user=user,
                data=data,
                project_id=project_id,
                project_name=project_name,
                position=position,
            )
        )
        created[-1].suites = script_suites
    return created


def resolve_in_project(*, sessions: sessionmaker, script: Script):
    """A `run` resolver: a test name -> its commands, looked up in the script's project.

    Each lookup has its own short session: a run may last minutes, and a transaction held that long
    would keep SQLite from checkpointing its write-ahead log.
    """

    def resolve(name: str) -> list[dict] | None:
        query = select(Script.commands).where(Script.owner == script.owner, Script.name == name)
        if script.project_id:
            query = query.where(Script.project_id == script.project_id)
        with sessions() as session:
            return session.execute(query.order_by(Script.position).limit(1)).scalar_one_or_none()

    return resolve


# --- runs -----------------------------------------------------------------------------------


def step_to_dict(run_id: str, step: Step) -> dict[str, Any]:
    return {
        "index": step.index,
        "command": step.command,
        "target": step.target,
        "value": step.value,
        "state": step.state,
        "duration_ms": step.duration_ms,
        "error": step.error,
        "screenshot_url": f"{API}/runs/{run_id}/steps/{step.seq}/screenshot" if step.has_screenshot else None,
    }


def run_to_dict(run: Run, *, with_result: bool = False) -> dict[str, Any]:
    body = run.run_fields()
    body.update(
        script_id=run.script_id,
        script_name=run.script_name,
        base_url=run.base_url,
        progress={"current": run.progress_current, "total": run.progress_total},
        steps=[step_to_dict(run.id, s) for s in run.steps],
        junit_url=f"{API}/runs/{run.id}/junit.xml",
    )
    if with_result:
        body["result"] = run.result
    return body


def active_run(*, session: Session, script_id: str) -> Run | None:
    return run_service.active_run(session, Run.script_id, script_id)


def latest_run(*, session: Session, script_id: str) -> Run | None:
    return run_service.latest_run(session, Run.script_id, script_id)


def get_run(*, session: Session, user: User, run_id: str) -> Run:
    return run_service.get_readable_run(session, Run, user, run_id)


def runs_of_script_query(script_id: str):
    return run_service.runs_of(Run.script_id, script_id)


def start_run(*, session: Session, celery: Celery, script: Script, request: RunRequest) -> Run:
    """Insert a queued run owned by the script's owner, then enqueue it; 409 while one is active."""
    if active_run(session=session, script_id=script.id) is not None:
        raise Conflict("a run of this script is already queued or running")
    run = Run(
        owner=script.owner,
        script_id=script.id,
        script_name=script.name,
        state=RunState.queued,
        priority=request.priority,
        base_url=request.base_url or script.base_url,
        variables=request.variables,
        progress_total=len(script.commands),
        attempts=0,
    )
    return run_service.enqueue_run(session, celery, run, names.WEB_RUN_SCRIPT, time_limit_s=script.timeout_ms / 1000)


def stop_run(*, session: Session, redis: Redis, celery: Celery, script: Script) -> Run:
    """Stop the script's active run; 409 if there is none."""
    run = active_run(session=session, script_id=script.id)
    if run is None:
        raise Conflict("the script has no active run")
    run_service.stop_active(session, redis, celery, run)
    return run


def screenshot_png(*, session: Session, run_id: str, seq: int) -> bytes:
    query = select(Screenshot.png).where(Screenshot.run_id == run_id, Screenshot.seq == seq)
    png = session.execute(query).scalar_one_or_none()
    if png is None:
        raise NotFound(f"no screenshot for step {seq} of run {run_id}")
    return png


def delete_runs_older_than(*, session: Session, cutoff) -> dict[str, int]:
    """Delete finished runs created before cutoff, with their steps and screenshots."""
    return run_service.delete_runs_older_than(session, Run, cutoff, children=(Screenshot, Step))


def junit_case(run: Run) -> dict[str, Any]:
    """The run as build_junit_xml expects it."""
    result = run.result or {}
    return {
        "name": run.script_name,
        "classname": "testfleet.web",
        "state": run.state,
        "duration_ms": run.duration_ms or 0,
        "message": (run.error or {}).get("message"),
        "steps": [{**step_to_dict(run.id, s), "message": s.error} for s in run.steps],
        "console_log": result.get("console_log") or [],
        "echo_log": result.get("echo_log") or [],
    }
