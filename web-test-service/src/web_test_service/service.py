"""Scripts and runs: the plain functions behind the views (no Flask request inside); they commit."""

from __future__ import annotations

from typing import Any

from celery import Celery
from sqlalchemy import select
from sqlalchemy.orm import Session, load_only, selectinload, sessionmaker

from shared.auth import User, load_owned, owner_filter
from shared.errors import Unprocessable
from shared.host_policy import HostPolicy
from shared.responses import dump
from shared.runs import api as runs
from shared.runs.idempotency import IdempotencyKey
from shared.runs.states import TERMINAL_STATES
from web_test_service.models import RUNS, Run, Script
from web_test_service.runner.policy import literal_target_problem
from web_test_service.runner.validation import validate_commands
from web_test_service.schemas import RunDetail, RunRequest, ScriptCreate, ScriptRead

# Verdicts GET /scripts/{id} lists in `recent`: enough to see a test flap.
RECENT_VERDICTS = 20


# --- scripts --------------------------------------------------------------------------------


def validated_script(body: dict[str, Any], max_timeout_ms: int, policy: HostPolicy | None = None) -> ScriptCreate:
    """Parse a script body and run the runner's save-time checks; 422 naming the command's index and field.

    With a policy (WEB_ALLOWED_HOSTS), a literal base_url or `open` target it refuses is a 422 too.
    """
    data = ScriptCreate.model_validate(body)
    problems = script_problems(data, max_timeout_ms, policy)
    if problems:
        raise Unprocessable(f"{problems[0]['field']}: {problems[0]['message']}", details=problems)
    return data


def script_problems(data: ScriptCreate, max_timeout_ms: int, policy: HostPolicy | None) -> list[dict[str, Any]]:
    """Every save-time problem of a parsed script as {field, message, index?, command?}, in field order.

    An unsupported command's problem names it (`command`); an import keeps such a script as not runnable.
    """
    problems: list[dict[str, Any]] = []
    if data.timeout_ms > max_timeout_ms:
        problems.append({"field": "timeout_ms", "message": f"must be at most {max_timeout_ms}"})
    refused = literal_target_problem(data.base_url, policy) if data.base_url else None
    if refused:
        problems.append({"field": "base_url", "message": refused})
    for found in validate_commands(data.command_dicts(), policy):
        problems.append({**found, "field": f"commands.{found['index']}.{found['field']}"})
    return problems


def scripts_query(user: User):
    """Scripts the user may read, in a stable order."""
    return owner_filter(select(Script), Script.owner, user).order_by(Script.created_at, Script.position, Script.id)


def get_script(*, session: Session, user: User, script_id: str, write: bool = False) -> Script:
    """Load a script the user may read (or change); 404 otherwise."""
    return load_owned(session, Script, script_id, user, "script", write=write)


def script_detail(*, session: Session, user: User, script_id: str) -> dict[str, Any]:
    """A script the user may read with its recent verdicts (as ScriptDetail shows it); 404 otherwise."""
    script = get_script(session=session, user=user, script_id=script_id)
    return {**dump(ScriptRead, script), "recent": recent_verdicts(session=session, script_id=script.id)}


def recent_verdicts(*, session: Session, script_id: str, limit: int = RECENT_VERDICTS) -> list[Run]:
    """The script's last `limit` finished runs, newest first, with only what a verdict shows loaded; one query.

    Finished means terminal (passed, failed, error, stopped): a queued or running run has no verdict yet.
    """
    query = (
        select(Run)
        .options(load_only(Run.id, Run.state, Run.started_at, Run.finished_at))
        .where(Run.script_id == script_id, Run.state.in_([state.value for state in TERMINAL_STATES]))
        .order_by(Run.finished_at.desc().nulls_last(), Run.created_at.desc(), Run.id.desc())
        .limit(limit)
    )
    return list(session.execute(query).scalars())


def _new_script(user: User, data: ScriptCreate, **extra: Any) -> Script:
    fields = {"name": data.name, "base_url": data.base_url, "commands": data.command_dicts(), "suites": []}
    fields |= {"timeout_ms": data.timeout_ms, "unrunnable": None}
    return Script(owner=user.id, **(fields | extra))


def create_script(*, session: Session, user: User, data: ScriptCreate) -> Script:
    """Insert a script owned by the user."""
    script = _new_script(user, data)
    session.add(script)
    session.commit()
    return script


def replace_script(*, session: Session, user: User, script_id: str, data: ScriptCreate) -> Script:
    script = get_script(session=session, user=user, script_id=script_id, write=True)
    script.name, script.base_url = data.name, data.base_url
    script.commands, script.timeout_ms = data.command_dicts(), data.timeout_ms
    script.unrunnable = None  # validated_script refuses an unsupported command
    session.commit()
    return script


def resolve_in_project(*, sessions: sessionmaker, owner: str, project_id: str | None):
    """A `run` resolver: a test name -> its commands, looked up in the script's project.

    Each lookup has its own short session: a run may last minutes, and a transaction held that long
    would keep SQLite from checkpointing its write-ahead log.
    """

    def resolve(name: str) -> list[dict] | None:
        query = select(Script.commands).where(Script.owner == owner, Script.name == name)
        if project_id:
            query = query.where(Script.project_id == project_id)
        with sessions() as session:
            return session.execute(query.order_by(Script.position).limit(1)).scalar_one_or_none()

    return resolve


# --- runs -----------------------------------------------------------------------------------


def start_run(
    *, session: Session, celery: Celery, script: Script, request: RunRequest, key: IdempotencyKey | None = None
) -> runs.Submission:
    """Insert a queued run owned by the script's owner, then enqueue it; 409 while one is active.

    With an Idempotency-Key, a repeat of an earlier start answers with that start's run. A script that is not
    runnable (an imported test with an unsupported command) is a 422 naming the command; no run is made.
    """
    if script.unrunnable:
        reason = script.unrunnable
        raise Unprocessable(f"{reason['field']}: {reason['message']}", details=[reason])
    run = Run(
        owner=script.owner,
        script_id=script.id,
        script_name=script.name,
        priority=request.priority,
        time_limit_s=-(-script.timeout_ms // 1000),
        base_url=request.base_url or script.base_url,
        variables=request.variables,
        progress_total=len(script.commands),
    )
    return runs.submit_run(session, celery, RUNS, run, key)


def runs_query(
    user: User, *, state: str | None = None, script_id: str | None = None, project_run_id: str | None = None
):
    """The web runs the user may read, newest first, with their steps (one more query per page, not per run).

    Only those in state, of a script or of a project run (its tests, every attempt), if given.
    """
    query = runs.visible_runs(RUNS, user, state=state, target_id=script_id).options(selectinload(Run.steps))
    if project_run_id is not None:
        query = query.where(Run.project_run_id == project_run_id)
    return query


def junit_case(run: Run) -> dict[str, Any]:
    """The run as build_junit_xml expects it."""
    detail = dump(RunDetail, run)
    result = detail["result"] or {}
    return {
        "name": run.script_name,
        "classname": "testfleet.web",
        "state": run.state,
        "duration_ms": run.duration_ms or 0,
        "message": (run.error or {}).get("message"),
        "steps": [{**step, "message": step["error"]} for step in detail["steps"]],
        "console_log": result.get("console_log") or [],
        "echo_log": result.get("echo_log") or [],
    }
