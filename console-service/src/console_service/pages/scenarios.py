"""/scenarios: list, create and edit declarative load scenarios in a form, and start a run of one."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, redirect, request
from werkzeug.datastructures import MultiDict

from console_service.pages.common import api, page, try_api
from console_service.platform_api import ApiCallFailed
from shared import paths
from shared.auth import current_user, require_role

bp = Blueprint("scenarios_page", __name__)
PAGE_SIZE = 20
RECENT_RUNS = 10
# The columns of the form's requests table; "body" holds json or text as body_kind says.
REQUEST_FIELDS = ("method", "path", "name", "weight", "expect_status", "body_kind", "body", "headers")
HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
ROW_KEY = re.compile(r"requests-(\d+)-[a-z_]+")
THRESHOLDS = ("max_failure_ratio", "p95_ms", "min_rps")
RUN_FIELDS = ("user_count", "spawn_rate", "run_time", "workers")
RUN_DEFAULTS = {"user_count": "10", "spawn_rate": "", "run_time": "30s", "workers": "0"}


@dataclass
class ScenarioForm:
    """The scenario form as typed: every value kept as text so a refused form comes back unchanged."""

    name: str = ""
    host: str = ""
    rows: list[dict[str, str]] = field(default_factory=lambda: [empty_row()])
    wait_min: str = ""
    wait_max: str = ""
    thresholds: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_form(cls, form: MultiDict) -> ScenarioForm:
        """Read the posted form; rows come in the order of their numbers."""
        indices = sorted({int(m[1]) for key in form if (m := ROW_KEY.fullmatch(key))})
        rows = [{f: form.get(f"requests-{i}-{f}", "").strip() for f in REQUEST_FIELDS} for i in indices]
        return cls(
            name=form.get("name", "").strip(),
            host=form.get("host", "").strip(),
            rows=rows,
            wait_min=form.get("wait_min", "").strip(),
            wait_max=form.get("wait_max", "").strip(),
            thresholds={k: form.get(k, "").strip() for k in THRESHOLDS},
        )

    @classmethod
    def from_scenario(cls, scenario: dict[str, Any]) -> ScenarioForm:
        """Fill the form from a scenario as the API returns it."""
        wait = scenario.get("wait_time_ms") or {}
        limits = scenario.get("thresholds") or {}
        return cls(
            name=scenario["name"],
            host=scenario["host"],
            rows=[row_of(spec) for spec in scenario.get("requests") or []] or [empty_row()],
            wait_min=_text(wait.get("min")),
            wait_max=_text(wait.get("max")),
            thresholds={k: _text(limits.get(k)) for k in THRESHOLDS},
        )

    def body(self) -> tuple[dict[str, Any], list[int], dict[str, str]]:
        """The API body, the form row each sent request came from, and the problems found before sending."""
        errors: dict[str, str] = {}
        requests, sent_rows = [], []
        for index, row in enumerate(self.rows):
            if is_blank(row):
                continue
            spec = request_spec(row, index, errors)
            requests.append(spec)
            sent_rows.append(index)
        body: dict[str, Any] = {"name": self.name, "host": self.host, "requests": requests}
        wait = {k: _number(v, int) for k, v in (("min", self.wait_min), ("max", self.wait_max)) if v}
        if wait:
            body["wait_time_ms"] = wait
        limits = {k: _number(v, float) for k, v in self.thresholds.items() if v}
        if limits:
            body["thresholds"] = limits
        return body, sent_rows, errors


def empty_row() -> dict[str, str]:
    """A new row of the requests table."""
    return {f: "" for f in REQUEST_FIELDS} | {"method": "GET", "weight": "1", "body_kind": "json"}


def is_blank(row: dict[str, str]) -> bool:
    """Whether a row was left empty (an unused spare row is not a request)."""
    return not any(row.get(f) for f in ("path", "name", "expect_status", "body", "headers"))


def row_of(spec: dict[str, Any]) -> dict[str, str]:
    """A request of the API as a row of the form."""
    has_json = spec.get("json") is not None
    body = json.dumps(spec["json"]) if has_json else spec.get("body") or ""
    return {
        "method": spec.get("method", "GET"),
        "path": spec.get("path", ""),
        "name": spec.get("name", ""),
        "weight": _text(spec.get("weight", 1)),
        "expect_status": ", ".join(map(str, spec.get("expect_status") or [])),
        "body_kind": "text" if spec.get("body") is not None else "json",
        "body": body,
        "headers": "\n".join(f"{k}: {v}" for k, v in (spec.get("headers") or {}).items()),
    }


def request_spec(row: dict[str, str], index: int, errors: dict[str, str]) -> dict[str, Any]:
    """One row as the API's request; what cannot be sent as typed goes into errors under the row's field."""
    spec: dict[str, Any] = {"method": row["method"] or "GET", "path": row["path"]}
    if row["name"]:
        spec["name"] = row["name"]
    if row["weight"]:
        spec["weight"] = _number(row["weight"], int)
    if row["expect_status"]:
        codes = [part.strip() for part in row["expect_status"].split(",")]
        if all(code.isdigit() for code in codes):
            spec["expect_status"] = [int(code) for code in codes]
        else:
            errors[f"requests-{index}-expect_status"] = "status codes separated by commas, e.g. 200 or 200, 204"
    if row["body"] and row["body_kind"] == "text":
        spec["body"] = row["body"]
    elif row["body"]:
        try:
            spec["json"] = json.loads(row["body"])
        except ValueError as exc:
            errors[f"requests-{index}-body"] = f"not valid JSON: {exc}"
    if row["headers"]:
        headers = {}
        for line in filter(None, (line.strip() for line in row["headers"].splitlines())):
            name, colon, value = line.partition(":")
            if not colon:
                errors[f"requests-{index}-headers"] = f"a header is 'Name: value', one per line, not {line!r}"
            headers[name.strip()] = value.strip()
        spec["headers"] = headers
    return spec


def form_key(field_path: str, sent_rows: list[int]) -> str:
    """Where the form shows an API error: requests.1.path is the path of the row that request came from."""
    parts = field_path.split(".")
    if parts[0] == "requests" and len(parts) > 1 and parts[1].isdigit():
        index = int(parts[1])
        row = sent_rows[index] if index < len(sent_rows) else index
        column = {"json": "body"}.get(parts[2], parts[2]) if len(parts) > 2 else ""
        return f"requests-{row}-{column}" if column in REQUEST_FIELDS else f"requests-{row}"
    if parts[0] == "wait_time_ms":
        return {"min": "wait_min", "max": "wait_max"}.get(parts[1] if len(parts) > 1 else "", "wait")
    if parts[0] in ("thresholds", "target") and len(parts) > 1:
        return parts[1]
    return parts[0]


def describe_key(key: str) -> str:
    """A form key as people name the field: requests-0-path is "request 1, path"."""
    parts = key.split("-")
    if parts[0] == "requests" and len(parts) > 1 and parts[1].isdigit():
        column = " ".join(parts[2:]).replace("_", " ")
        return f"request {int(parts[1]) + 1}" + (f", {column}" if column else "")
    return key.replace("_", " ")


def field_errors(failure: ApiCallFailed, sent_rows: list[int] | None = None) -> dict[str, str]:
    """The API's 422 details as form key -> message; a failure without details is the form's own message."""
    details = failure.details if isinstance(failure.details, list) else []
    errors: dict[str, str] = {}
    for detail in details:
        key = form_key(str(detail.get("field", "")), sent_rows or [])
        message = str(detail.get("message", "invalid"))
        errors[key] = f"{errors[key]}; {message}" if key in errors else message
    return errors or {"form": failure.message}


def run_body(form: MultiDict) -> dict[str, Any]:
    """The run form as the API's run body: numbers where they are numbers, the rest as typed for the API to judge."""
    body: dict[str, Any] = {}
    for key, kind in (("user_count", int), ("spawn_rate", float), ("workers", int)):
        if text := form.get(key, "").strip():
            body[key] = _number(text, kind)
    run_time = form.get("run_time", "").strip()
    body["run_time"] = int(run_time) if run_time.isdigit() else run_time
    return body


def _number(text: str, kind: type[int] | type[float]) -> Any:
    # Text that is no number goes to the API as it is: its 422 then names the field in its own words.
    try:
        return kind(text)
    except ValueError:
        return text


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def can_write() -> bool:
    """Whether the user may create, edit and run (a viewer only reads)."""
    return current_user().role.name in ("tester", "admin")


# --- views -------------------------------------------------------------------------------------------------------


@bp.get("/scenarios")
@require_role("viewer")
def list_():
    """The scenarios the user may see, a page at a time."""
    listing = try_api(lambda: api().get(paths.SCENARIOS, **_page_args()))
    return page("scenarios.html", listing=listing, can_write=can_write())


@bp.get("/scenarios/new")
@require_role("tester")
def new():
    """An empty scenario form."""
    return _form_page(ScenarioForm(), None)


@bp.post("/scenarios")
@require_role("viewer")  # writes are the API's to refuse: a viewer forcing one sees its 403
def create():
    """Save a new scenario (or add or remove a row of the form) and go to it."""
    return _submit(None)


@bp.get("/scenarios/<scenario_id>/edit")
@require_role("tester")
def edit(scenario_id: str):
    """The scenario's form, filled in."""
    return _form_page(ScenarioForm.from_scenario(api().get(f"{paths.SCENARIOS}/{scenario_id}")), scenario_id)


@bp.post("/scenarios/<scenario_id>")
@require_role("viewer")
def replace(scenario_id: str):
    """Save the changed scenario (or add or remove a row of the form)."""
    return _submit(scenario_id)


@bp.get("/scenarios/<scenario_id>")
@require_role("viewer")
def show(scenario_id: str):
    """The scenario, its recent runs and the form that starts a run."""
    return _show(scenario_id, RUN_DEFAULTS, {})


@bp.post("/scenarios/<scenario_id>/run")
@require_role("viewer")
def run(scenario_id: str):
    """Start a load run and go to its live page."""
    try:
        started = api().post(f"{paths.SCENARIOS}/{scenario_id}/run", run_body(request.form))
    except ApiCallFailed as exc:
        if exc.status not in (409, 422):
            raise
        typed = {k: request.form.get(k, "") for k in RUN_FIELDS}
        return _show(scenario_id, typed, field_errors(exc)), exc.status
    return redirect(f"/load-runs/{started['run_id']}", 303)


def _submit(scenario_id: str | None):
    form = ScenarioForm.from_form(request.form)
    if request.form.get("action") == "add-row":
        form.rows.append(empty_row())
        return _form_page(form, scenario_id)
    if (remove := request.form.get("remove", "")).isdigit():
        del form.rows[int(remove) : int(remove) + 1]
        return _form_page(form, scenario_id)
    body, sent_rows, errors = form.body()
    if errors:
        return _form_page(form, scenario_id, errors), 422
    try:
        if scenario_id is None:
            scenario_id = api().post(paths.SCENARIOS, body)["id"]
        else:
            api().put(f"{paths.SCENARIOS}/{scenario_id}", body)
    except ApiCallFailed as exc:
        if exc.status != 422:
            raise
        return _form_page(form, scenario_id, field_errors(exc, sent_rows)), 422
    return redirect(f"/scenarios/{scenario_id}", 303)


def _form_page(form: ScenarioForm, scenario_id: str | None, errors: dict[str, str] | None = None):
    if not form.rows:
        form.rows.append(empty_row())
    return page(
        "scenario_form.html",
        form=form,
        scenario_id=scenario_id,
        errors=errors or {},
        methods=HTTP_METHODS,
        describe=describe_key,
    )


def _show(scenario_id: str, run_form: dict[str, str], errors: dict[str, str]):
    client = api()
    scenario = client.get(f"{paths.SCENARIOS}/{scenario_id}")
    runs = try_api(lambda: client.get(f"{paths.SCENARIOS}/{scenario_id}/runs", **_page_args(RECENT_RUNS)))
    return page("scenario.html", scenario=scenario, runs=runs, run_form=run_form, errors=errors, can_write=can_write())


def _page_args(limit: int = PAGE_SIZE) -> dict[str, str]:
    return {"limit": request.args.get("limit", str(limit)), "offset": request.args.get("offset", "0")}
