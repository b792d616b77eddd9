"""API paths: the one place the public URLs are spelled (blueprints, response links, firing, readiness)."""

from __future__ import annotations

from shared import names

API_V1 = "/api/v1"


def service_prefix(service: str) -> str:
    """/api/v1/<service>: where a service's health, OpenAPI document and resources live."""
    return f"{API_V1}/{service}"


def ready_path(service: str) -> str:
    return f"{service_prefix(service)}/ready"


WEB_TEST = service_prefix(names.WEB_TEST_SERVICE)
PERF_TEST = service_prefix(names.PERF_TEST_SERVICE)
SCHEDULER = service_prefix(names.SCHEDULER_SERVICE)

# Resource collections (blueprint prefixes).
SCRIPTS = f"{WEB_TEST}/scripts"
PROJECTS = f"{WEB_TEST}/projects"
WEB_RUNS = f"{WEB_TEST}/runs"
PROJECT_RUNS = f"{WEB_TEST}/project-runs"
SCENARIOS = f"{PERF_TEST}/scenarios"
PERF_RUNS = f"{PERF_TEST}/runs"
SCHEDULES = f"{API_V1}/schedules"
WEBHOOKS = f"{API_V1}/webhooks"
AUTH = f"{API_V1}/auth"

# Where a run of each target kind is started (what a schedule's firing POSTs to).
RUN_TARGET = {
    names.WEB_TEST_SERVICE: SCRIPTS + "/{id}/run",
    names.PERF_TEST_SERVICE: SCENARIOS + "/{id}/run",
}


def web_junit(run_id: str) -> str:
    return f"{WEB_RUNS}/{run_id}/junit.xml"


def web_screenshot(run_id: str, seq: int) -> str:
    return f"{WEB_RUNS}/{run_id}/steps/{seq}/screenshot"


def web_artifacts(run_id: str) -> str:
    return f"{WEB_RUNS}/{run_id}/artifacts"


def web_console_log(run_id: str) -> str:
    return f"{WEB_RUNS}/{run_id}/console.json"


def web_final_screenshot(run_id: str) -> str:
    return f"{WEB_RUNS}/{run_id}/final-screenshot.png"


def perf_report(run_id: str) -> str:
    return f"{PERF_RUNS}/{run_id}/report.html"


def perf_stats_csv(run_id: str) -> str:
    return f"{PERF_RUNS}/{run_id}/stats.csv"


def project_run_junit(project_run_id: str) -> str:
    return f"{PROJECT_RUNS}/{project_run_id}/junit.xml"
