"""/runs: the runs you may see; /runs/{id}: full result, JUnit XML, artifacts (step screenshots, console log, final
screenshot)."""

from __future__ import annotations

from flask import Blueprint, Response

from shared.auth import current_user, require_role
from shared.db import current_session
from shared.openapi import PAGE_QUERY, document
from shared.pagination import paginate
from shared.query_params import id_param, query_schema, read_query
from shared.responses import respond
from shared.runs import api as runs
from shared.runs.views import RUN_STATE
from web_test_service import artifacts, service
from web_test_service.junit import build_junit_xml
from web_test_service.models import RUNS
from web_test_service.schemas import ArtifactList, ConsoleLog, RunDetail, RunList, RunRead

bp = Blueprint("runs", __name__)
FILTERS = (RUN_STATE, id_param("script_id"), id_param("project_run_id"))


def _run(run_id: str):
    return runs.get_readable_run(current_session(), RUNS, current_user(), run_id)


@bp.get("")
@require_role("viewer")
@document(
    "The web runs you may see, newest first; only those in `state`, of `script_id` or of `project_run_id`.",
    response=RunList,
    query=PAGE_QUERY | query_schema(*FILTERS),
)
def list_runs():
    """List web runs."""
    state, script_id, project_run_id = read_query(*FILTERS)
    query = service.runs_query(current_user(), state=state, script_id=script_id, project_run_id=project_run_id)
    return paginate(current_session(), query, RunRead)


@bp.get("/<run_id>")
@require_role("viewer")
@document("A run's full result: steps, errors, console log.", response=RunDetail)
def read_run(run_id: str):
    """Full result of a run."""
    return respond(RunDetail, _run(run_id))


@bp.get("/<run_id>/junit.xml")
@require_role("viewer")
@document("JUnit XML of the run for CI systems.", content_type="application/xml")
def junit(run_id: str):
    """JUnit XML of a run."""
    run = _run(run_id)
    xml = build_junit_xml([service.junit_case(run)], suite_name=f"TestFleet web: {run.script_name}")
    return Response(xml, mimetype="application/xml")


@bp.get("/<run_id>/artifacts")
@require_role("viewer")
@document("The run's step screenshots, console log and final screenshot, each with its URL.", response=ArtifactList)
def list_artifacts(run_id: str):
    """List a run's artifacts."""
    return respond(ArtifactList, {"items": artifacts.list_artifacts(session=current_session(), run=_run(run_id))})


@bp.get("/<run_id>/steps/<int:n>/screenshot")
@require_role("viewer")
@document("PNG of the page when step n failed.", content_type=artifacts.PNG)
def screenshot(run_id: str, n: int):
    """Screenshot of a failed step."""
    run = _run(run_id)
    png = artifacts.step_screenshot(session=current_session(), run_id=run.id, index=n)
    return Response(png, mimetype=artifacts.PNG)


@bp.get("/<run_id>/console.json")
@require_role("viewer")
@document("The browser console log of the run: level, message, source, timestamp.", response=ConsoleLog)
def console_log(run_id: str):
    """Console log of a run."""
    return Response(artifacts.console_log(_run(run_id)), mimetype=artifacts.JSON)


@bp.get("/<run_id>/final-screenshot.png")
@require_role("viewer")
@document("PNG of the page a failed or errored run ended on.", content_type=artifacts.PNG)
def final_screenshot(run_id: str):
    """Final screenshot of a failing run."""
    run = _run(run_id)
    return Response(artifacts.final_screenshot(session=current_session(), run_id=run.id), mimetype=artifacts.PNG)
