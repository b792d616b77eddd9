"""/scripts: CRUD, .side import, run, status, stop, history."""

from __future__ import annotations

from flask import Blueprint

from shared.app_factory import resources
from shared.auth import current_user, require_role
from shared.body import json_object
from shared.db import current_session
from shared.openapi import PAGE_QUERY, document
from shared.pagination import paginate
from shared.responses import respond
from shared.runs.schemas import RunAccepted
from shared.runs.views import START_HEADERS, add_target_routes, requested_idempotency_key, respond_started
from web_test_service import projects, service
from web_test_service.models import RUNS
from web_test_service.schemas import (
    ImportedProject,
    NoRunYet,
    RunList,
    RunRead,
    RunRequest,
    ScriptCreate,
    ScriptDetail,
    ScriptList,
    ScriptRead,
)
from web_test_service.views.projects import SIDE_BODY, import_limits, side_document

bp = Blueprint("scripts", __name__)
START_SUMMARY = "Start a run: 202; 409 while one is active; a repeated Idempotency-Key answers with its run."


def _validated(body: dict):
    """The body as a script, checked by the runner and by WEB_ALLOWED_HOSTS (literal targets)."""
    settings = resources().settings
    return service.validated_script(body, settings.max_run_seconds * 1000, settings.host_policy)


@bp.post("")
@require_role("tester")
@document("Create a script (one Selenium IDE test).", body=ScriptCreate, response=ScriptRead, status=201)
def create_script():
    """Create a script."""
    data = _validated(json_object())
    return respond(ScriptRead, service.create_script(session=current_session(), user=current_user(), data=data), 201)


@bp.get("")
@require_role("viewer")
@document("List the scripts you may see.", response=ScriptList, query=PAGE_QUERY)
def list_scripts():
    """List scripts."""
    return paginate(current_session(), service.scripts_query(current_user()), ScriptRead)


@bp.get("/<script_id>")
@require_role("viewer")
@document("Read a script, with its last 20 finished runs in `recent` (newest first).", response=ScriptDetail)
def read_script(script_id: str):
    """Read a script and its recent verdicts."""
    detail = service.script_detail(session=current_session(), user=current_user(), script_id=script_id)
    return respond(ScriptDetail, detail)


@bp.put("/<script_id>")
@require_role("tester")
@document("Replace a script.", body=ScriptCreate, response=ScriptRead)
def replace_script(script_id: str):
    """Replace a script."""
    data = _validated(json_object())
    script = service.replace_script(session=current_session(), user=current_user(), script_id=script_id, data=data)
    return respond(ScriptRead, script)


@bp.post("/import")
@require_role("tester")
@document(
    "Import a Selenium IDE .side project (JSON body or multipart `file`) as a new project: one script per test.",
    body=SIDE_BODY,
    response=ImportedProject,
    status=201,
)
def import_project():
    """Import a .side project."""
    raw, limits = side_document(), import_limits()
    imported = projects.import_scripts(session=current_session(), user=current_user(), raw=raw, limits=limits)
    return respond(ImportedProject, imported, 201)


@bp.post("/<script_id>/run")
@require_role("tester")
@document(START_SUMMARY, body=RunRequest, response=RunAccepted, status=202, errors=(409,), headers=START_HEADERS)
def run_script(script_id: str):
    """Start a run of the script."""
    session = current_session()
    script = service.get_script(session=session, user=current_user(), script_id=script_id, write=True)
    body = json_object(optional=True)
    run_request = RunRequest.model_validate(body)
    key = requested_idempotency_key(script.id, body)
    started = service.start_run(session=session, celery=resources().celery, script=script, request=run_request, key=key)
    return respond_started(started)


add_target_routes(
    bp,
    RUNS,
    RunRead,
    NoRunYet,
    RunList,
    status_summary="The latest run: state, progress and step results so far.",
    stop_summary="Stop the active run; the browser is closed; 409 if none.",
)
