"""/projects: upload a Selenium IDE .side, list projects, a project's suites and tests with their recent verdicts,
and the form that runs the project or one suite."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from flask import Blueprint, redirect, request
from werkzeug.datastructures import MultiDict

from console_service.pages.common import api, page, try_api
from console_service.platform_api import ApiCallFailed, PlatformApi
from shared import paths
from shared.auth import Role, current_user, require_role

bp = Blueprint("projects_page", __name__)
PAGE_SIZE = 20
# A test's verdict strip shows its states in the project's latest runs, this many at most.
STRIP_RUNS = 10
VARIABLE_ROWS = 3
# The web-test API reads at most this long a side_id (longer: a new project, as the API cannot look it up).
MAX_SIDE_ID = 200
# What an import refusal shows beside the upload form, at most (a broken project may list 1000 problems).
MAX_PROBLEMS = 20
RUN_FIELDS = ("suite", "base_url", "variables", "retries")


@bp.get("/projects")
@require_role("viewer")
def list_():
    """A page of projects with their suites, tests and last run, and the upload form."""
    return _list_page()


@bp.post("/projects")
@require_role("viewer")
def upload():
    """Import the uploaded .side: update the project it was imported as before, else create one."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _list_page(problems=["Choose a .side file to upload."]), 422
    try:
        imported, created = import_side(api(), upload.read(), upload.filename)
    except ApiCallFailed as exc:
        if exc.status in (400, 409, 413, 422):
            return _list_page(problems=import_problems(exc)), exc.status
        raise
    return _list_page(imported=imported, created=created), 201 if created else 200


@bp.get("/projects/<project_id>")
@require_role("viewer")
def detail(project_id: str):
    """A project's suites and tests, each test with its verdict strip, its runs and the run form."""
    return _detail_page(project_id)


@bp.post("/projects/<project_id>/run")
@require_role("viewer")
def run(project_id: str):
    """Start a project run (or one suite's) and go to its page."""
    body, errors = run_request(request.form)
    if errors:
        return _detail_page(project_id, errors=errors, form=request.form), 422
    try:
        started = api().post(f"{paths.PROJECTS}/{project_id}/run", body)
    except ApiCallFailed as exc:
        if exc.status != 422:
            raise
        return _detail_page(project_id, errors=run_errors(exc), form=request.form), 422
    return redirect(f"/project-runs/{started['id']}")


@bp.get("/projects/variable-row")
@require_role("viewer")
def variable_row():
    """One more name/value row of the run form (htmx appends it)."""
    number = request.args.get("n", "")
    return page("projects_variable_row.html", n=int(number) if number.isdigit() else 0, name="", value="")


def side_id_of(raw: bytes) -> str | None:
    """The Selenium IDE project id of a .side document, if it has one the API can look up."""
    try:
        document = json.loads(raw)
    except ValueError:  # not JSON (or not UTF-8): the API names what is wrong with it
        return None
    side_id = document.get("id") if isinstance(document, dict) else None
    return side_id if isinstance(side_id, str) and 0 < len(side_id) <= MAX_SIDE_ID else None


def import_side(client: PlatformApi, raw: bytes, filename: str) -> tuple[dict, bool]:
    """Re-import the .side into the newest project of its IDE id (keeping each test's history), or create one,
    as `testfleet web import` does; the API's answer, and whether a project was created."""
    files = {"file": (filename, raw, "application/json")}
    side_id = side_id_of(raw)
    if side_id is not None:
        found = client.get(paths.PROJECTS, side_id=side_id, limit=500)["items"]
        if found:
            newest = max(found, key=lambda project: project["created_at"])
            return client.call("PUT", f"{paths.PROJECTS}/{newest['id']}", files=files).json(), False
    return client.call("POST", paths.PROJECTS, files=files).json(), True


def import_problems(exc: ApiCallFailed) -> list[str]:
    """What the API found wrong with an upload, one readable line per problem."""
    details = exc.details if isinstance(exc.details, list) else []
    lines = [f"{d['field']}: {d['message']}" for d in details if isinstance(d, dict) and "field" in d]
    if len(lines) > MAX_PROBLEMS:
        lines = [*lines[:MAX_PROBLEMS], f"… and {len(lines) - MAX_PROBLEMS} more"]
    return [exc.message, *[line for line in lines if line != exc.message]]


def run_request(form: Mapping[str, str] | MultiDict) -> tuple[dict[str, Any], dict[str, str]]:
    """The run form as the body of POST /projects/{id}/run, and the form's own errors by field."""
    body: dict[str, Any] = {}
    errors: dict[str, str] = {}
    if suite := form.get("suite", ""):
        body["suite"] = suite
    if base_url := form.get("base_url", "").strip():
        body["base_url"] = base_url
    retries = form.get("retries", "").strip()
    if retries.isdigit():
        body["retries"] = int(retries)
    elif retries:
        errors["retries"] = "Retries must be a whole number from 0 to 5."
    names = form.getlist("var_name") if isinstance(form, MultiDict) else []
    values = form.getlist("var_value") if isinstance(form, MultiDict) else []
    variables: dict[str, str] = {}
    for name, value in zip(names, values, strict=False):
        if name.strip():
            variables[name.strip()] = value
        elif value:
            errors["variables"] = f"The value {value!r} has no name."
    if variables:
        body["variables"] = variables
    return body, errors


def run_errors(exc: ApiCallFailed) -> dict[str, str]:
    """The API's refusal of a run, by the form field it is about (`run` for the others)."""
    errors: dict[str, str] = {}
    for item in exc.details if isinstance(exc.details, list) else []:
        field = str(item.get("field", "")).split(".")[0] if isinstance(item, dict) else ""
        errors.setdefault(field if field in RUN_FIELDS else "run", str(item.get("message", exc.message)))
    return errors or {"run": exc.message}


def verdict_strips(project_runs: Iterable[dict], size: int = STRIP_RUNS) -> dict[str, list[dict]]:
    """Script id -> its states in the given project runs (newest first, as the API lists them), oldest first
    and at most size; a run that did not include the test adds nothing to its strip."""
    strips: dict[str, list[dict]] = {}
    for project_run in reversed(list(project_runs)):
        seen: set[str] = set()
        for suite in project_run.get("suites", []):
            for test in suite.get("tests", []):
                if not test.get("state") or test["script_id"] in seen:
                    continue
                seen.add(test["script_id"])
                verdict = {"state": test["state"], "flaky": bool(test.get("flaky"))}
                verdict |= {"project_run_id": project_run["id"], "created_at": project_run.get("created_at")}
                strips.setdefault(test["script_id"], []).append(verdict)
    return {script_id: strip[-size:] for script_id, strip in strips.items()}


def can_run() -> bool:
    """Whether the user may start runs (the API decides anyway; a viewer is shown no controls)."""
    return current_user().role is not Role.viewer


def page_query() -> dict[str, str]:
    """The ?limit= and ?offset= of this page's list, passed on to the API (which checks them)."""
    return {"limit": request.args.get("limit") or str(PAGE_SIZE), "offset": request.args.get("offset") or "0"}


def project_rows(client: PlatformApi, projects: list[dict]) -> list[dict]:
    """Each listed project with its suite and test counts and its latest run."""
    rows = []
    for project in projects:
        found = client.get(f"{paths.PROJECTS}/{project['id']}")
        runs = client.get(f"{paths.PROJECTS}/{project['id']}/runs", limit=1)["items"]
        rows.append({**project, "suites": len(found["suites"]), "tests": len(found["scripts"]),
                     "last_run": runs[0] if runs else None})  # fmt: skip
    return rows


def _list_page(**extra: Any):
    client = api()
    listing = try_api(lambda: client.get(paths.PROJECTS, **page_query()))
    rows = try_api(lambda: project_rows(client, listing.body["items"])) if listing.body else None
    extra.setdefault("problems", [])
    return page("projects.html", listing=listing, rows=rows, can_run=can_run(), **extra)


def _detail_page(project_id: str, *, errors: dict[str, str] | None = None, form: Any = None):
    client = api()
    found = client.get(f"{paths.PROJECTS}/{project_id}")
    runs = try_api(lambda: client.get(f"{paths.PROJECTS}/{project_id}/runs", **page_query()))
    strips = try_api(lambda: _strips(client, project_id))
    form = form if form is not None else MultiDict()
    names, values = form.getlist("var_name") or [""] * VARIABLE_ROWS, form.getlist("var_value") or []
    variables = [(name, values[n] if n < len(values) else "") for n, name in enumerate(names)]
    scripts = {script["id"]: script for script in found["scripts"]}
    return page("projects_detail.html", found=found, project=found["project"], scripts=scripts, runs=runs,
                strips=strips, can_run=can_run(), errors=errors or {}, form=form, variables=variables,
                strip_runs=STRIP_RUNS)  # fmt: skip


def _strips(client: PlatformApi, project_id: str) -> dict[str, list[dict]]:
    latest = client.get(f"{paths.PROJECTS}/{project_id}/runs", limit=STRIP_RUNS)["items"]
    return verdict_strips(client.get(f"{paths.PROJECT_RUNS}/{run['id']}") for run in latest)
