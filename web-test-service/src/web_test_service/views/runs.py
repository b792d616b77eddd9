"""/runs/{id}: full result, JUnit XML, step screenshots."""

from __future__ import annotations

from flask import Blueprint, Response

from shared.auth import current_user, require_role
from shared.db import current_session
from shared.openapi import document
from shared.responses import respond
from shared.runs import api as runs
from web_test_service import service
from web_test_service.junit import build_junit_xml
from web_test_service.models import RUNS
from web_test_service.schemas import RunDetail

bp = Blueprint("runs", __name__)


def _run(run_id: str):
    return runs.get_readable_run(current_session(), RUNS, current_user(), run_id)


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


@bp.get("/<run_id>/steps/<int:n>/screenshot")
@require_role("viewer")
@document("PNG of the page when step n failed.", content_type="image/png")
def screenshot(run_id: str, n: int):
    """Screenshot of a failed step."""
    run = _run(run_id)
    return Response(service.screenshot_png(session=current_session(), run_id=run.id, index=n), mimetype="image/png")
