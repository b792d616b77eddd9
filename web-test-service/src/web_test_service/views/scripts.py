"""/scripts: CRUD, .side import, run, status, stop, history."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request
from pydantic import ValidationError

from shared.auth import current_user, require_role
from shared.errors import BadRequest, Unprocessable, validation_details
from shared.openapi import PAGE_QUERY, document
from shared.pagination import paginate
from shared.run_schemas import RunAccepted
from web_test_service import service
from web_test_service.schemas import (
    NoRunYet,
    RunList,
    RunRead,
    RunRequest,
    ScriptCreate,
    ScriptList,
    ScriptRead,
    check_commands_or_422,
)
from web_test_service.side_import import SideProjectError, load_side_project

bp = Blueprint("scripts", __name__)
# Tests per imported project: far above a real Selenium IDE project, far below what would outlast a request
# (20,000 tests took 10 s to import; 10 MB of tests would be killed by the worker timeout, a 502).
MAX_IMPORT_TESTS = 1000


def _session():
    return current_app.extensions["db"].session


def _settings():
    return current_app.extensions["settings"]


def _json_object() -> dict:
    body = request.get_json(silent=False)
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object", code="invalid_json")
    return body


def _validated_script(body: dict) -> ScriptCreate:
    data = ScriptCreate.model_validate(body)
    check_commands_or_422(data.command_dicts(), data.timeout_ms, _settings().max_run_seconds * 1000)
    return data


@bp.post("")
@require_role("tester")
@document("Create a script (one Selenium IDE test).", body=ScriptCreate, response=ScriptRead, status=201)
def create_script():
    """Create a script."""
    script = service.create_script(session=_session(), user=current_user(), data=_validated_script(_json_object()))
    _session().commit()
    return jsonify(service.script_to_dict(script)), 201


@bp.get("")
@require_role("viewer")
@document("List the scripts you may see.", response=ScriptList, query=PAGE_QUERY)
def list_scripts():
    """List scripts."""
    return jsonify(paginate(_session(), service.scripts_query(current_user()), service.script_to_dict))


@bp.get("/<script_id>")
@require_role("viewer")
@document("Read a script.", response=ScriptRead)
def read_script(script_id: str):
    """Read a script."""
    return jsonify(
        service.script_to_dict(service.get_script(session=_session(), user=current_user(), script_id=script_id))
    )


@bp.put("/<script_id>")
@require_role("tester")
@document("Replace a script.", body=ScriptCreate, response=ScriptRead)
def replace_script(script_id: str):
    """Replace a script."""
    script = service.replace_script(
        session=_session(), user=current_user(), script_id=script_id, data=_validated_script(_json_object())
    )
    _session().commit()
    return jsonify(service.script_to_dict(script))


@bp.delete("/<script_id>")
@require_role("tester")
@document("Delete a script (its runs stay in history).", status=204, errors=(409,))
def delete_script(script_id: str):
    """Delete a script."""
    service.delete_script(session=_session(), user=current_user(), script_id=script_id)
    _session().commit()
    return "", 204


@bp.post("/import")
@require_role("tester")
@document("Import a Selenium IDE .side project (JSON body or multipart `file`): one script per test.",
          body={"type": "object", "description": "a .side project"}, response=ScriptList, status=201)  # fmt: skip
def import_project():
    """Import a .side project."""
    upload = request.files.get("file")
    if upload is not None:
        raw = upload.read()
    elif request.is_json:
        raw = _json_object()
    else:
        raise BadRequest("send the .side project as a JSON body or as a multipart field named 'file'")
    try:
        project = load_side_project(raw)
    except SideProjectError as exc:
        raise Unprocessable(str(exc), details=[{"field": "project", "message": str(exc)}]) from None
    except RecursionError:
        raise BadRequest("the .side project is nested too deeply", code="invalid_json") from None
    if len(project.scripts) > MAX_IMPORT_TESTS:
        message = f"a project may have at most {MAX_IMPORT_TESTS} tests, this one has {len(project.scripts)}"
        raise Unprocessable(message, details=[{"field": "tests", "message": message}])
    scripts, suites = [], []
    for position, item in enumerate(project.scripts):
        body = {k: item[k] for k in ("name", "base_url", "commands") if k in item}
        if item.get("timeout_ms"):
            body["timeout_ms"] = item["timeout_ms"]
        try:
            scripts.append(_validated_script(body))
        except ValidationError as exc:
            details = [{**d, "field": f"tests.{position}.{d['field']}"} for d in validation_details(exc)]
            raise Unprocessable(f"test '{item['name']}': {details[0]['field']}: {details[0]['message']}",
                                details=details) from None  # fmt: skip
        except Unprocessable as exc:
            raise Unprocessable(f"test '{item['name']}': {exc.message}", details=exc.details) from None
        suites.append([suite["name"] for suite in item.get("suites") or []])
    created = service.import_scripts(
        session=_session(), user=current_user(), project_name=project.name, scripts=scripts, suites=suites
    )
    _session().commit()
    return jsonify({"items": [service.script_to_dict(s) for s in created], "total": len(created),
                    "project": {"name": project.name, "suites": project.suites}}), 201  # fmt: skip


@bp.post("/<script_id>/run")
@require_role("tester")
@document("Start a run: 202; 409 while one is active.", body=RunRequest, response=RunAccepted, status=202,
          errors=(409,))  # fmt: skip
def run_script(script_id: str):
    """Start a run of the script."""
    session = _session()
    script = service.get_script(session=session, user=current_user(), script_id=script_id, write=True)
    body = request.get_json(silent=True) if request.content_length else {}
    if request.content_length and not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object", code="invalid_json")
    run = service.start_run(
        session=session, celery=current_app.extensions["celery"], script=script,
        request=RunRequest.model_validate(body or {}),
    )  # fmt: skip
    return jsonify({"run_id": run.id, "task_id": run.task_id, "state": run.state}), 202


@bp.get("/<script_id>/status")
@require_role("viewer")
@document("The latest run: state, progress and step results so far.", response=(RunRead, NoRunYet))
def status(script_id: str):
    """Latest run of the script."""
    session = _session()
    script = service.get_script(session=session, user=current_user(), script_id=script_id)
    run = service.latest_run(session=session, script_id=script.id)
    if run is None:
        return jsonify({"script_id": script.id, "state": None, "run_id": None, "progress": None, "steps": []})
    return jsonify(service.run_to_dict(run))


@bp.post("/<script_id>/stop")
@require_role("tester")
@document("Stop the active run; the browser is closed; 409 if none.", response=RunRead, status=202, errors=(409,))
def stop(script_id: str):
    """Stop the active run."""
    session = _session()
    script = service.get_script(session=session, user=current_user(), script_id=script_id, write=True)
    run = service.stop_run(
        session=session, redis=current_app.extensions["redis"], celery=current_app.extensions["celery"],
        script=script,
    )  # fmt: skip
    return jsonify(service.run_to_dict(run)), 202


@bp.get("/<script_id>/runs")
@require_role("viewer")
@document("Run history of the script, newest first.", response=RunList, query=PAGE_QUERY)
def runs(script_id: str):
    """Run history."""
    session = _session()
    script = service.get_script(session=session, user=current_user(), script_id=script_id)
    return jsonify(paginate(session, service.runs_of_script_query(script.id), service.run_to_dict))
