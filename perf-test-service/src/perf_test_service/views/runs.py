"""/runs/{id}: final stats and time series, Locust's HTML report, the stats CSV."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify

from perf_test_service import service
from perf_test_service.schemas import PerfRunRead
from shared.auth import current_user, require_role
from shared.errors import NotFound
from shared.openapi import document

bp = Blueprint("runs", __name__)


def _run(run_id: str):
    return service.get_run(session=current_app.extensions["db"].session, user=current_user(), run_id=run_id)


@bp.get("/<run_id>")
@require_role("viewer")
@document("A run's final stats, time series, thresholds and errors.", response=PerfRunRead)
def read_run(run_id: str):
    """Full result of a run."""
    return jsonify(service.run_to_dict(_run(run_id)))


@bp.get("/<run_id>/report.html")
@require_role("viewer")
@document("Locust's own HTML report of the run.", content_type="text/html")
def report(run_id: str):
    """Locust's HTML report."""
    run = _run(run_id)
    if not run.report_html:
        raise NotFound("this run has no report (yet)")
    return Response(run.report_html, mimetype="text/html")


@bp.get("/<run_id>/stats.csv")
@require_role("viewer")
@document("Locust's stats CSV of the run.", content_type="text/csv")
def stats_csv(run_id: str):
    """Locust's stats CSV."""
    run = _run(run_id)
    if not run.stats_csv:
        raise NotFound("this run has no CSV (yet)")
    return Response(run.stats_csv, mimetype="text/csv")
