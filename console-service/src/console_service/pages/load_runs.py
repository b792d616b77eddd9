"""/load-runs/<id>: a load run, live: charts over time, the endpoint table, errors, thresholds, report, stop."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, jsonify, redirect

from console_service.pages.common import api, page, relay
from console_service.pages.scenarios import can_write
from shared import paths
from shared.auth import require_role

bp = Blueprint("load_runs_page", __name__)
ACTIVE_STATES = ("queued", "running")
# The chart series in the order the script draws them (static/load-charts.js).
SERIES = ("users", "rps", "failures_per_s", "p50_ms", "p95_ms")


def is_active(run: dict[str, Any]) -> bool:
    """Whether the run may still change (the page keeps refreshing while it does)."""
    return run.get("state") in ACTIVE_STATES


def series_of(run: dict[str, Any]) -> dict[str, Any]:
    """The run's time series as the charts read it: seconds since the epoch, then one list per series."""
    points = run.get("history") or []
    times = [datetime.fromisoformat(point["t"].replace("Z", "+00:00")).timestamp() for point in points]
    return {
        "state": run.get("state"),
        "active": is_active(run),
        "t": times,
        **{name: [point.get(name) for point in points] for name in SERIES},
    }


def latest(run: dict[str, Any]) -> dict[str, Any]:
    """The last point of the time series (the charts' text alternative), or {} before the first."""
    history = run.get("history") or []
    return history[-1] if history else {}


@bp.get("/load-runs/<run_id>")
@require_role("viewer")
def show(run_id: str):
    """The live page of a run."""
    return page("load_run.html", run=_run(run_id), latest=latest, can_write=can_write(), active=is_active)


@bp.get("/load-runs/<run_id>/live")
@require_role("viewer")
def live(run_id: str):
    """The run's state, tables and links (htmx swaps them in every 2 s while it is active)."""
    run = _run(run_id)
    return page("load_run_live.html", run=run, latest=latest, can_write=can_write(), active=is_active, oob=True)


@bp.get("/load-runs/<run_id>/series.json")
@require_role("viewer")
def series(run_id: str):
    """The run's time series for the charts, relayed from the API."""
    return jsonify(series_of(_run(run_id)))


@bp.post("/load-runs/<run_id>/stop")
@require_role("viewer")  # the API decides who may stop: a viewer forcing it sees its 403
def stop(run_id: str):
    """Stop the run (its scenario's active run); the results so far are kept."""
    run = _run(run_id)
    if is_active(run) and run.get("scenario_id"):
        api().post(f"{paths.SCENARIOS}/{run['scenario_id']}/stop")
    return redirect(f"/load-runs/{run_id}", 303)


@bp.get("/load-runs/<run_id>/report.html")
@require_role("viewer")
def report(run_id: str):
    """Locust's HTML report of the run."""
    response = relay(paths.perf_report(run_id))
    # The report is generated from what a scenario's author typed: shown in a sandbox, it cannot act as the user.
    response.headers["Content-Security-Policy"] = "sandbox allow-scripts"
    return response


@bp.get("/load-runs/<run_id>/stats.csv")
@require_role("viewer")
def stats_csv(run_id: str):
    """Locust's stats CSV of the run, as a download."""
    return relay(paths.perf_stats_csv(run_id), download_name=f"load-run-{run_id}-stats.csv")


def _run(run_id: str) -> dict[str, Any]:
    return api().get(f"{paths.PERF_RUNS}/{run_id}")
