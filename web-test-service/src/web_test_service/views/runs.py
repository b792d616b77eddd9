"""/runs/{id}: full result, JUnit XML, step screenshots."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify

from shared.auth import current_user, require_role
from shared.openapi import document
from web_test_service import service
from web_test_service.junit import build_junit_xml

bp = Blueprint("runs", __name__)


def _session():
    return current_app.extensions["db"].session


@bp.get("/<run_id>")
@require_role("viewer")
@document("A run's full result: steps, errors, console log.")
def read_run(run_id: str):
    """Full result of a run."""
    run = service.get_run(session=_session(), user=current_user(), run_id=run_id)
    return jsonify(service.run_to_dict(run, with_result=True))


@bp.get("/<run_id>/junit.xml")
@require_role("viewer")
@document("JUnit XML of the run for CI systems.", content_type="application/xml")
def junit(run_id: str):
    """JUnit XML of a run."""
    run = service.get_run(session=_session(), user=current_user(), run_id=run_id)
    xml = build_junit_xml([service.junit_case(run)], suite_name=f"TestFleet web: {run.script_name}")
    return Response(xml, mimetype="application/xml")


@bp.get("/<run_id>/steps/<int:n>/screenshot")
@require_role("viewer")
@document("PNG of the page when step n failed.", content_type="image/png")
def screenshot(run_id: str, n: int):
    """Screenshot of a failed step."""
    run = service.get_run(session=_session(), user=current_user(), run_id=run_id)
    return Response(service.screenshot_png(session=_session(), run_id=run.id, seq=n), mimetype="image/png")
