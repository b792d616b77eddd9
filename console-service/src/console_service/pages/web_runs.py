"""/web-runs/<id> and /project-runs/<id>: a script run or a project run, live: each step with its state and
duration, the failing step's screenshot, the console log, the JUnit report, stop."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect

from console_service.page_auth import is_fragment
from console_service.pages.common import Answer, api, page, relay
from console_service.pages.projects import can_run
from console_service.platform_api import ApiCallFailed, PlatformApi
from shared import paths
from shared.auth import require_role
from shared.runs.states import TERMINAL_STATES

bp = Blueprint("web_runs_page", __name__)
# htmx stops polling an element whose answer has this status (and still swaps it in).
STOP_POLLING = 286
# A project run's tests, every attempt, in one call (the API's largest page).
MAX_ATTEMPTS = 500


@bp.get("/web-runs/<run_id>")
@require_role("viewer")
def web_run(run_id: str):
    """A web run's page; its steps refresh themselves until the run ends."""
    return page("web_run.html", **_web_run(api(), run_id))


@bp.get("/web-runs/<run_id>/live")
@require_role("viewer")
def web_run_live(run_id: str):
    """The live part of a web run's page (htmx polls it every second; 286 when the run has ended)."""
    context = _web_run(api(), run_id)
    return page("web_run_live.html", **context), STOP_POLLING if context["ended"] else 200


@bp.post("/web-runs/<run_id>/stop")
@require_role("viewer")
def stop_web_run(run_id: str):
    """Stop the run: a script's own run by its script, a test of a project run with its project run."""
    client = api()
    run = client.get(f"{paths.WEB_RUNS}/{run_id}")
    if run.get("project_run_id"):
        client.post(f"{paths.PROJECT_RUNS}/{run['project_run_id']}/stop")
    elif run.get("script_id") and run["state"] not in TERMINAL_STATES:
        _stop_if_active(client, f"{paths.SCRIPTS}/{run['script_id']}/stop")
    return redirect(f"/web-runs/{run_id}")


@bp.get("/web-runs/<run_id>/steps/<int:n>/screenshot")
@require_role("viewer")
def screenshot(run_id: str, n: int):
    """The PNG of the page when step n failed."""
    return relay(paths.web_screenshot(run_id, n))


@bp.get("/web-runs/<run_id>/junit.xml")
@require_role("viewer")
def web_run_junit(run_id: str):
    """The run's JUnit XML, as a download."""
    return relay(paths.web_junit(run_id), download_name=f"web-run-{run_id}.xml")


@bp.get("/project-runs/<project_run_id>")
@require_role("viewer")
def project_run(project_run_id: str):
    """A project run's page; its tests refresh themselves until the run ends."""
    return page("project_run.html", **_project_run(api(), project_run_id))


@bp.get("/project-runs/<project_run_id>/live")
@require_role("viewer")
def project_run_live(project_run_id: str):
    """The live part of a project run's page (htmx polls it every second; 286 when the run has ended)."""
    context = _project_run(api(), project_run_id)
    return page("project_run_live.html", **context), STOP_POLLING if context["ended"] else 200


@bp.post("/project-runs/<project_run_id>/stop")
@require_role("viewer")
def stop_project_run(project_run_id: str):
    """Stop every test of the project run."""
    api().post(f"{paths.PROJECT_RUNS}/{project_run_id}/stop")
    return redirect(f"/project-runs/{project_run_id}")


@bp.get("/project-runs/<project_run_id>/junit.xml")
@require_role("viewer")
def project_run_junit(project_run_id: str):
    """The project run's JUnit XML (a testsuite per suite), as a download."""
    return relay(paths.project_run_junit(project_run_id), download_name=f"project-run-{project_run_id}.xml")


def failing_steps(steps: list[dict]) -> list[dict]:
    """The steps that failed or errored and left a screenshot, once per command (a loop repeats an index)."""
    seen: set[int] = set()
    found = []
    for step in steps:
        if step.get("screenshot_url") and step["state"] in ("failed", "error") and step["index"] not in seen:
            seen.add(step["index"])
            found.append(step)
    return found


def test_rows(detail: dict, runs: list[dict]) -> list[dict]:
    """Each suite of a project run with its tests, each test with its latest attempt's run (steps included)."""
    by_id = {run["run_id"]: run for run in runs}
    return [{**suite, "tests": [{**test, "run": by_id.get(test.get("run_id") or "")} for test in suite["tests"]]}
            for suite in detail["suites"]]  # fmt: skip


def console_log(client: PlatformApi, run_id: str) -> Answer:
    """The browser console of a finished run: its entries, none (404: it logged nothing), or why not."""
    try:
        return Answer(body=client.get(paths.web_console_log(run_id))["entries"])
    except ApiCallFailed as exc:
        return Answer(body=[]) if exc.status == 404 else Answer(error=exc.message)


def _stop_if_active(client: PlatformApi, path: str) -> None:
    try:
        client.post(path)
    except ApiCallFailed as exc:
        if exc.status != 409:  # 409: it ended meanwhile, which is what the page then shows
            raise


def _web_run(client: PlatformApi, run_id: str) -> dict[str, Any]:
    run = client.get(f"{paths.WEB_RUNS}/{run_id}")
    ended = run["state"] in TERMINAL_STATES
    stoppable = bool(run.get("script_id") or run.get("project_run_id"))  # a deleted script's run has no stop
    return {"run": run, "ended": ended, "failing": failing_steps(run["steps"]),
            "can_stop": can_run() and stoppable and not ended,
            "console": console_log(client, run_id) if ended else None, "fragment": is_fragment()}  # fmt: skip


def _project_run(client: PlatformApi, project_run_id: str) -> dict[str, Any]:
    detail = client.get(f"{paths.PROJECT_RUNS}/{project_run_id}")
    runs = client.get(paths.WEB_RUNS, project_run_id=project_run_id, limit=MAX_ATTEMPTS)["items"]
    ended = detail["state"] in TERMINAL_STATES
    suites = test_rows(detail, runs)
    consoles = {}
    if ended:
        for suite in suites:
            for test in suite["tests"]:
                if test["run"]:
                    consoles[test["run"]["run_id"]] = console_log(client, test["run"]["run_id"])
    return {"detail": detail, "suites": suites, "ended": ended, "can_stop": can_run() and not ended,
            "consoles": consoles, "failing_steps": failing_steps, "fragment": is_fragment()}  # fmt: skip
