"""/: recent web, project and load runs, queue lengths and workers online."""

from __future__ import annotations

from flask import Blueprint

from console_service.pages.common import api, page, try_api
from shared import paths
from shared.auth import require_role

bp = Blueprint("dashboard", __name__)
RECENT = 10


@bp.get("/")
@require_role("viewer")
def dashboard():
    """The dashboard; its tables refresh themselves."""
    return page("dashboard.html", **_overview())


@bp.get("/dashboard/overview")
@require_role("viewer")
def overview():
    """The dashboard's tables (htmx refreshes them every 2 s)."""
    return page("dashboard_overview.html", **_overview())


def _overview() -> dict:
    client = api()
    return {
        "web_runs": try_api(lambda: client.get(paths.WEB_RUNS, limit=RECENT)),
        "project_runs": try_api(lambda: client.get(paths.PROJECT_RUNS, limit=RECENT)),
        "load_runs": try_api(lambda: client.get(paths.PERF_RUNS, limit=RECENT)),
        "status": try_api(lambda: client.get(paths.SCHEDULER + "/status")),
    }
