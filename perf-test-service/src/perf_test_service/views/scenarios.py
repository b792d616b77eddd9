"""/scenarios: CRUD, run, live status, stop, history."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from perf_test_service import service
from perf_test_service.scenario import Scenario as ScenarioSpec
from perf_test_service.schemas import (
    LocustfileScenario,
    NoPerfRunYet,
    PerfRunList,
    PerfRunRead,
    RunBody,
    ScenarioList,
    ScenarioRead,
)
from shared.auth import current_user, require_role
from shared.errors import BadRequest
from shared.openapi import PAGE_QUERY, document
from shared.pagination import paginate
from shared.run_schemas import RunAccepted

bp = Blueprint("scenarios", __name__)
SCENARIO_BODY = (ScenarioSpec, LocustfileScenario)  # a raw locustfile is for admins only (403 otherwise)
RUN_PARAMS = {
    "type": "object",
    "required": ["user_count", "run_time"],
    "properties": {
        "user_count": {"type": "integer", "minimum": 1},
        "spawn_rate": {"type": "number", "minimum": 0},
        "run_time": {"oneOf": [{"type": "string"}, {"type": "integer", "minimum": 1}]},
        "workers": {"type": "integer", "minimum": 0},
        "priority": {"type": "integer", "minimum": 0, "maximum": 9},
    },
}


def _session():
    return current_app.extensions["db"].session


def _settings():
    return current_app.extensions["settings"]


def _json_object(optional: bool = False) -> dict:
    if optional and not request.content_length:
        return {}
    body = request.get_json(silent=False)
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object", code="invalid_json")
    return body


@bp.post("")
@require_role("tester")
@document("Create a scenario (declarative; admins may give a raw `locustfile`).", body=SCENARIO_BODY,
          response=ScenarioRead, status=201, errors=(403,))  # fmt: skip
def create_scenario():
    """Create a scenario."""
    spec = service.parse_scenario(_json_object(), current_user(), _settings().perf_allowed_hosts)
    scenario = service.create_scenario(session=_session(), user=current_user(), spec=spec)
    _session().commit()
    return jsonify(service.scenario_to_dict(scenario)), 201


@bp.get("")
@require_role("viewer")
@document("List the scenarios you may see.", response=ScenarioList, query=PAGE_QUERY)
def list_scenarios():
    """List scenarios."""
    return jsonify(paginate(_session(), service.scenarios_query(current_user()), service.scenario_to_dict))


@bp.get("/<scenario_id>")
@require_role("viewer")
@document("Read a scenario.", response=ScenarioRead)
def read_scenario(scenario_id: str):
    """Read a scenario."""
    scenario = service.get_scenario(session=_session(), user=current_user(), scenario_id=scenario_id)
    return jsonify(service.scenario_to_dict(scenario))


@bp.put("/<scenario_id>")
@require_role("tester")
@document("Replace a scenario.", body=SCENARIO_BODY, response=ScenarioRead, errors=(403,))
def replace_scenario(scenario_id: str):
    """Replace a scenario."""
    spec = service.parse_scenario(_json_object(), current_user(), _settings().perf_allowed_hosts)
    scenario = service.replace_scenario(session=_session(), user=current_user(), scenario_id=scenario_id, spec=spec)
    _session().commit()
    return jsonify(service.scenario_to_dict(scenario))


@bp.delete("/<scenario_id>")
@require_role("tester")
@document("Delete a scenario (its runs stay in history).", status=204, errors=(409,))
def delete_scenario(scenario_id: str):
    """Delete a scenario."""
    service.delete_scenario(session=_session(), user=current_user(), scenario_id=scenario_id)
    _session().commit()
    return "", 204


@bp.post("/<scenario_id>/run")
@require_role("tester")
@document("Start a load run {user_count, spawn_rate, run_time, workers}: 202; 409 while one is active.",
          body=RUN_PARAMS, response=RunAccepted, status=202, errors=(409,))  # fmt: skip
def run_scenario(scenario_id: str):
    """Start a load run."""
    session, settings = _session(), _settings()
    scenario = service.get_scenario(session=session, user=current_user(), scenario_id=scenario_id, write=True)
    body = _json_object()
    priority = RunBody.model_validate({"priority": body.get("priority", 5)}).priority
    params = service.validated_params(body, settings)
    run = service.start_run(session=session, celery=current_app.extensions["celery"], scenario=scenario,
                            params=params, priority=priority, allowed_hosts=settings.perf_allowed_hosts)  # fmt: skip
    return jsonify({"run_id": run.id, "task_id": run.task_id, "state": run.state}), 202


@bp.get("/<scenario_id>/status")
@require_role("viewer")
@document(
    "Live status of the latest run: users, rps, failures, percentiles, per endpoint.",
    response=(PerfRunRead, NoPerfRunYet),
)
def status(scenario_id: str):
    """Latest run of the scenario."""
    session = _session()
    scenario = service.get_scenario(session=session, user=current_user(), scenario_id=scenario_id)
    run = service.latest_run(session=session, scenario_id=scenario.id)
    if run is None:
        return jsonify({"scenario_id": scenario.id, "state": None, "run_id": None, "stats": None})
    return jsonify(service.run_to_dict(run))


@bp.post("/<scenario_id>/stop")
@require_role("tester")
@document("Stop the load; results so far are kept; 409 if no run is active.", response=PerfRunRead, status=202,
          errors=(409,))  # fmt: skip
def stop(scenario_id: str):
    """Stop the active run."""
    session = _session()
    scenario = service.get_scenario(session=session, user=current_user(), scenario_id=scenario_id, write=True)
    run = service.stop_run(session=session, redis=current_app.extensions["redis"],
                           celery=current_app.extensions["celery"], scenario=scenario)  # fmt: skip
    return jsonify(service.run_to_dict(run)), 202


@bp.get("/<scenario_id>/runs")
@require_role("viewer")
@document("Run history of the scenario, newest first.", response=PerfRunList, query=PAGE_QUERY)
def runs(scenario_id: str):
    """Run history."""
    session = _session()
    scenario = service.get_scenario(session=session, user=current_user(), scenario_id=scenario_id)
    return jsonify(paginate(session, service.runs_of_scenario_query(scenario.id), service.run_to_dict))
