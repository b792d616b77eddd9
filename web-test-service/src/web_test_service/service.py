"""Scripts and runs: the plain functions behind the views (no Flask request inside); they commit."""

from __future__ import annotations

from typing import Any

from celery import Celery
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from shared.auth import User, load_owned, owner_filter
from shared.db import new_id
from shared.errors import BadRequest, NotFound, Unprocessable, validation_details
from shared.host_policy import HostPolicy
from shared.responses import dump
from shared.runs import api as runs
from shared.runs.idempotency import IdempotencyKey
from web_test_service.models import RUNS, Run, Screenshot, Script, Step
from web_test_service.runner.policy import literal_target_problem
from web_test_service.runner.validation import validate_commands
from web_test_service.schemas import RunDetail, RunRequest, ScriptCreate
from web_test_service.side_import import SideProject, SideProjectError, load_side_project

# Tests per imported project: far above a real Selenium IDE project, far below what would outlast a request
# (20,000 tests took 10 s to import; 10 MB of tests would be killed by the worker timeout, a 502).
MAX_IMPORT_TESTS = 1000


# --- scripts --------------------------------------------------------------------------------


def validated_script(body: dict[str, Any], max_timeout_ms: int, policy: HostPolicy | None = None) -> ScriptCreate:
    """Parse a script body and run the runner's save-time checks; 422 naming the command's index and field.

    With a policy (WEB_ALLOWED_HOSTS), a literal base_url or `open` target it refuses is a 422 too.
    """
    data = ScriptCreate.model_validate(body)
    if data.timeout_ms > max_timeout_ms:
        raise Unprocessable(
            f"timeout_ms: must be at most {max_timeout_ms}",
            details=[{"field": "timeout_ms", "message": f"at most {max_timeout_ms}"}],
        )
    refused = literal_target_problem(data.base_url, policy) if data.base_url else None
    if refused:
        raise Unprocessable(f"base_url: {refused}", details=[{"field": "base_url", "message": refused}])
    problems = validate_commands(data.command_dicts(), policy)
    if problems:
        first = problems[0]
        details = [
            {"field": f"commands.{p['index']}.{p['field']}", "index": p["index"], "message": p["message"]}
            for p in problems
        ]
        raise Unprocessable(f"commands.{first['index']}.{first['field']}: {first['message']}", details=details)
    return data


def scripts_query(user: User):
    """Scripts the user may read, in a stable order."""
    return owner_filter(select(Script), Script.owner, user).order_by(Script.created_at, Script.position, Script.id)


def get_script(*, session: Session, user: User, script_id: str, write: bool = False) -> Script:
    """Load a script the user may read (or change); 404 otherwise."""
    return load_owned(session, Script, script_id, user, "script", write=write)


def _new_script(user: User, data: ScriptCreate, **extra: Any) -> Script:
    fields = {"name": data.name, "base_url": data.base_url, "commands": data.command_dicts(), "suites": []}
    return Script(owner=user.id, timeout_ms=data.timeout_ms, **(fields | extra))


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
    session.commit()
    return script


def load_project(raw: str | bytes | dict) -> SideProject:
    """Parse a .side project; 422 (or 400 for nesting too deep) naming what is wrong."""
    try:
        project = load_side_project(raw)
    except SideProjectError as exc:
        raise Unprocessable(str(exc), details=exc.details) from None
    except RecursionError:
        raise BadRequest("the .side project is nested too deeply", code="invalid_json") from None
    if len(project.scripts) > MAX_IMPORT_TESTS:
        message = f"a project may have at most {MAX_IMPORT_TESTS} tests, this one has {len(project.scripts)}"
        raise Unprocessable(message, details=[{"field": "tests", "message": message}])
    return project


def _validated_test(item: dict, max_timeout_ms: int, policy: HostPolicy | None) -> ScriptCreate:
    body = {k: item[k] for k in ("name", "base_url", "commands") if k in item}
    if item.get("timeout_ms"):
        body["timeout_ms"] = item["timeout_ms"]
    where = f"tests.{item['side_position']}"  # the test's place in the .side document
    try:
        return validated_script(body, max_timeout_ms, policy)
    except ValidationError as exc:
        details = [{**d, "field": f"{where}.{d['field']}"} for d in validation_details(exc)]
        message = f"test '{item['name']}': {details[0]['field']}: {details[0]['message']}"
        raise Unprocessable(message, details=details) from None
    except Unprocessable as exc:
        details = [{**d, "field": f"{where}.{d['field']}"} for d in exc.details or []]
        raise Unprocessable(f"test '{item['name']}': {exc.message}", details=details) from None


def import_project(
    *, session: Session, user: User, raw: str | bytes | dict, max_timeout_ms: int, policy: HostPolicy | None = None
) -> dict[str, Any]:
    """Insert every test of a .side project under one project_id, keeping suite order; all or nothing."""
    project = load_project(raw)
    checked = [_validated_test(item, max_timeout_ms, policy) for item in project.scripts]
    project_id = new_id()
    created = []
    for position, (item, data) in enumerate(zip(project.scripts, checked, strict=True)):
        suites = [suite["name"] for suite in item.get("suites") or []]
        where = {"project_id": project_id, "project_name": project.name, "position": position, "suites": suites}
        created.append(_new_script(user, data, **where))
    session.add_all(created)
    session.commit()
    return {"items": created, "total": len(created), "project": {"name": project.name, "suites": project.suites}}


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

    With an Idempotency-Key, a repeat of an earlier start answers with that start's run.
    """
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


def screenshot_png(*, session: Session, run_id: str, index: int) -> bytes:
    """The screenshot of the step with this index (the command's position, as `failed_step` names it).

    A loop may have run the command several times; a soft (verify) failure leaves one screenshot per pass:
    this is the first, the one `failed_step` points at. Screenshots are stored by execution sequence.
    """
    query = (
        select(Screenshot.png)
        .join(Step, (Step.run_id == Screenshot.run_id) & (Step.seq == Screenshot.seq))
        .where(Screenshot.run_id == run_id, Step.index == index)
        .order_by(Screenshot.seq)
        .limit(1)
    )
    png = session.execute(query).scalar_one_or_none()
    if png is None:
        raise NotFound(f"no screenshot for step {index} of run {run_id}")
    return png


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
