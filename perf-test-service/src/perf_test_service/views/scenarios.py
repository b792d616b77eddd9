"""/scenarios: CRUD, run, live status, stop, history."""

from __future__ import annotations

from flask import Blueprint

from perf_test_service import service
from perf_test_service.models import RUNS
from perf_test_service.scenario import MAX_RATE, RUN_TIME_SCHEMA_PATTERN
from perf_test_service.scenario import Scenario as ScenarioSpec
from perf_test_service.schemas import (
    LocustfileScenario,
    NoPerfRunYet,
    PerfRunList,
    PerfRunRead,
    ScenarioList,
    ScenarioRead,
)
from shared.app_factory import resources
from shared.auth import current_user, require_role
from shared.body import json_object
from shared.db import current_session
from shared.openapi import PAGE_QUERY, document
from shared.pagination import paginate
from shared.responses import respond
from shared.runs.schemas import RunAccepted
from shared.runs.views import START_HEADERS, add_target_routes, requested_idempotency_key, respond_started

bp = Blueprint("scenarios", __name__)
SCENARIO_BODY = (ScenarioSpec, LocustfileScenario)  # a raw locustfile is for admins only (403 otherwise)


def run_params_schema(settings) -> dict:
    """The run body as scenario.RunParams reads it, with this service's caps (PERF_MAX_USERS, ...)."""
    return {
        "type": "object",
        "required": ["user_count", "run_time"],
        "additionalProperties": False,
        "properties": {
            "user_count": {"type": "integer", "minimum": 1, "maximum": settings.perf_max_users},
            "spawn_rate": {"type": "number", "minimum": 0, "maximum": MAX_RATE, "description": "0: all at once"},
            "run_time": {
                "description": "a duration ('30s', '5m', '1h30m') or whole seconds, at most PERF_MAX_RUN_TIME",
                "oneOf": [
                    {"type": "string", "pattern": RUN_TIME_SCHEMA_PATTERN},
                    {"type": "integer", "minimum": 1, "maximum": settings.max_run_seconds},
                ],
            },
            "workers": {"type": "integer", "minimum": 0, "maximum": settings.perf_max_workers},
            "priority": {"type": "integer", "minimum": 0, "maximum": 9},
        },
    }


def _spec():
    return service.parse_scenario(json_object(), current_user(), resources().settings.host_policy)


@bp.post("")
@require_role("tester")
@document(
    "Create a scenario (declarative; admins may give a raw `locustfile`).",
    body=SCENARIO_BODY,
    response=ScenarioRead,
    status=201,
    errors=(403,),
)
def create_scenario():
    """Create a scenario."""
    scenario = service.create_scenario(session=current_session(), user=current_user(), spec=_spec())
    return respond(ScenarioRead, scenario, 201)


@bp.get("")
@require_role("viewer")
@document("List the scenarios you may see.", response=ScenarioList, query=PAGE_QUERY)
def list_scenarios():
    """List scenarios."""
    return paginate(current_session(), service.scenarios_query(current_user()), ScenarioRead)


@bp.get("/<scenario_id>")
@require_role("viewer")
@document("Read a scenario.", response=ScenarioRead)
def read_scenario(scenario_id: str):
    """Read a scenario."""
    return respond(
        ScenarioRead, service.get_scenario(session=current_session(), user=current_user(), scenario_id=scenario_id)
    )


@bp.put("/<scenario_id>")
@require_role("tester")
@document("Replace a scenario.", body=SCENARIO_BODY, response=ScenarioRead, errors=(403,))
def replace_scenario(scenario_id: str):
    """Replace a scenario."""
    spec = _spec()
    scenario = service.replace_scenario(
        session=current_session(), user=current_user(), scenario_id=scenario_id, spec=spec
    )
    return respond(ScenarioRead, scenario)


@bp.post("/<scenario_id>/run")
@require_role("tester")
@document(
    "Start a load run {user_count, spawn_rate, run_time, workers}: 202; 409 while one is active;"
    " a repeated Idempotency-Key answers with its run.",
    body=run_params_schema,
    headers=START_HEADERS,
    response=RunAccepted,
    status=202,
    errors=(409,),
)
def run_scenario(scenario_id: str):
    """Start a load run."""
    session, app = current_session(), resources()
    scenario = service.get_scenario(session=session, user=current_user(), scenario_id=scenario_id, write=True)
    body = json_object()
    key = requested_idempotency_key(scenario.id, body)
    started = service.start_run(
        session=session, celery=app.celery, scenario=scenario, body=body, settings=app.settings, key=key
    )
    return respond_started(started)


add_target_routes(
    bp,
    RUNS,
    PerfRunRead,
    NoPerfRunYet,
    PerfRunList,
    status_summary="Live status of the latest run: users, rps, failures, percentiles, per endpoint.",
    stop_summary="Stop the load; results so far are kept; 409 if no run is active.",
)
