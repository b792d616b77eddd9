"""/schedules: the user's cron schedules with their next fire times; create, enable or disable, trigger now."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, redirect, request
from werkzeug.datastructures import MultiDict

from console_service.pages.common import api, page, try_api
from console_service.pages.scenarios import can_write, field_errors
from console_service.platform_api import ApiCallFailed
from shared import paths
from shared.auth import require_role

bp = Blueprint("schedules_page", __name__)
PAGE_SIZE = 20
FORM_FIELDS = ("name", "cron", "timezone", "kind", "id", "params")
TARGET_KINDS = ("perf-test", "web-test")
DEFAULT_FORM = {"timezone": "UTC", "kind": "perf-test", "params": '{"user_count": 1, "run_time": "30s"}'}


def schedule_body(form: MultiDict) -> tuple[dict[str, Any], dict[str, str]]:
    """The create form as the API's body, and the problems found before sending (params that are not JSON)."""
    typed = {k: form.get(k, "").strip() for k in FORM_FIELDS}
    errors: dict[str, str] = {}
    params: Any = {}
    if typed["params"]:
        try:
            params = json.loads(typed["params"])
        except ValueError as exc:
            errors["params"] = f"not valid JSON: {exc}"
    target = {"kind": typed["kind"], "id": typed["id"], "params": params}
    body = {"name": typed["name"], "cron": typed["cron"], "timezone": typed["timezone"] or "UTC", "target": target}
    return body, errors


def run_page(kind: str, run_id: str) -> str:
    """The console page of a run a schedule started."""
    return f"/load-runs/{run_id}" if kind == "perf-test" else f"/web-runs/{run_id}"


def target_page(target: dict[str, Any]) -> str:
    """The console page of a schedule's target."""
    return f"/scenarios/{target['id']}" if target["kind"] == "perf-test" else f"/scripts/{target['id']}"


@bp.get("/schedules")
@require_role("viewer")
def list_():
    """The schedules the user may see, a page at a time, and the form for a new one."""
    return _page(DEFAULT_FORM, {})


@bp.post("/schedules")
@require_role("viewer")  # writes are the API's to refuse: a viewer forcing one sees its 403
def create():
    """Create a schedule."""
    body, errors = schedule_body(request.form)
    typed = {k: request.form.get(k, "") for k in FORM_FIELDS}
    if errors:
        return _page(typed, errors), 422
    try:
        api().post(paths.SCHEDULES, body)
    except ApiCallFailed as exc:
        if exc.status != 422:
            raise
        return _page(typed, field_errors(exc)), 422
    return redirect("/schedules", 303)


@bp.post("/schedules/<schedule_id>/enabled")
@require_role("viewer")
def set_enabled(schedule_id: str):
    """Enable or disable a schedule."""
    api().patch(f"{paths.SCHEDULES}/{schedule_id}", {"enabled": request.form.get("enabled") == "true"})
    return redirect(_back(), 303)


@bp.post("/schedules/<schedule_id>/trigger")
@require_role("viewer")
def trigger(schedule_id: str):
    """Fire the schedule now; its last outcome then says what happened."""
    api().post(f"{paths.SCHEDULES}/{schedule_id}/trigger")
    return redirect(_back(), 303)


def _page(form: dict[str, str], errors: dict[str, str]):
    args = {"limit": request.args.get("limit", str(PAGE_SIZE)), "offset": request.args.get("offset", "0")}
    listing = try_api(lambda: api().get(paths.SCHEDULES, **args))
    return page(
        "schedules.html",
        listing=listing,
        form=form,
        errors=errors,
        kinds=TARGET_KINDS,
        can_write=can_write(),
        run_page=run_page,
        target_page=target_page,
    )


def _back() -> str:
    # Back to the page of the list the button was on; only a query string of this page, never another site.
    offset = request.form.get("offset", "")
    return f"/schedules?offset={offset}" if offset.isdigit() else "/schedules"
