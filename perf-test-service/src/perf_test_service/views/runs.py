"""/runs: the load runs you may see; /runs/{id}: final stats and time series, Locust's HTML report, the stats CSV."""

from __future__ import annotations

from flask import Blueprint, Response

from perf_test_service.models import RUNS
from perf_test_service.schemas import PerfRunList, PerfRunRead
from shared.auth import current_user, require_role
from shared.db import current_session
from shared.errors import NotFound
from shared.openapi import PAGE_QUERY, document
from shared.pagination import paginate
from shared.query_params import id_param, query_schema, read_query
from shared.responses import respond
from shared.runs import api as runs
from shared.runs.views import RUN_STATE

bp = Blueprint("runs", __name__)
FILTERS = (RUN_STATE, id_param("scenario_id"))


def _run(run_id: str):
    return runs.get_readable_run(current_session(), RUNS, current_user(), run_id)


@bp.get("")
@require_role("viewer")
@document(
    "The load runs you may see, newest first; only those in `state` or of `scenario_id`.",
    response=PerfRunList,
    query=PAGE_QUERY | query_schema(*FILTERS),
)
def list_runs():
    """List load runs."""
    state, scenario_id = read_query(*FILTERS)
    query = runs.visible_runs(RUNS, current_user(), state=state, target_id=scenario_id)
    return paginate(current_session(), query, PerfRunRead)


@bp.get("/<run_id>")
@require_role("viewer")
@document("A run's final stats, time series, thresholds and errors.", response=PerfRunRead)
def read_run(run_id: str):
    """Full result of a run."""
    return respond(PerfRunRead, _run(run_id))


def _artifact(run_id: str, column: str, what: str, mimetype: str) -> Response:
    content = getattr(_run(run_id), column)
    if not content:
        raise NotFound(f"this run has no {what} (yet)")
    return Response(content, mimetype=mimetype)


@bp.get("/<run_id>/report.html")
@require_role("viewer")
@document("Locust's own HTML report of the run.", content_type="text/html")
def report(run_id: str):
    """Locust's HTML report."""
    return _artifact(run_id, "report_html", "report", "text/html")


@bp.get("/<run_id>/stats.csv")
@require_role("viewer")
@document("Locust's stats CSV of the run.", content_type="text/csv")
def stats_csv(run_id: str):
    """Locust's stats CSV."""
    return _artifact(run_id, "stats_csv", "CSV", "text/csv")
