"""Scenarios and runs: the plain functions behind the views (no Flask request inside)."""

from __future__ import annotations

from typing import Any

from celery import Celery
from redis import Redis
from sqlalchemy import select
from sqlalchemy.orm import Session

from perf_test_service.host_policy import HostNotAllowed, check_host
from perf_test_service.models import Run, Scenario
from perf_test_service.runner.locustfile import check_locustfile
from perf_test_service.scenario import RunParams, parse_run_params
from perf_test_service.scenario import Scenario as ScenarioSpec
from perf_test_service.schemas import LocustfileScenario
from shared import names, run_service
from shared.auth import Role, User, check_readable, check_writable, owner_filter
from shared.errors import Conflict, Forbidden, NotFound, Unprocessable
from shared.runs import RunState, iso

API = "/api/v1/perf-test"


def parse_scenario(body: dict, user: User, allowed_hosts: str) -> ScenarioSpec | LocustfileScenario:
    """Validate a scenario body: declarative for everyone, a raw locustfile for admins only."""
    if "locustfile" in body:
        if user.role is not Role.admin:
            raise Forbidden("only admins may save a raw locustfile; use a declarative scenario")
        spec = LocustfileScenario.model_validate(body)
        problem = check_locustfile(spec.locustfile)
        if problem:
            raise Unprocessable(f"locustfile: {problem}", details=[{"field": "locustfile", "message": problem}])
    else:
        spec = ScenarioSpec.model_validate(body)
    check_allowed_host(spec.host, allowed_hosts)
    return spec


def check_allowed_host(host: str, allowed_hosts: str) -> None:
    try:
        check_host(host, allowed_hosts)
    except HostNotAllowed as exc:
        raise Unprocessable(f"host: {exc}", details=[{"field": "host", "message": str(exc)}]) from None


def scenario_to_dict(scenario: Scenario) -> dict[str, Any]:
    body = {"id": scenario.id, "owner": scenario.owner, "name": scenario.name, "host": scenario.host}
    definition = dict(scenario.definition or {})
    if scenario.locustfile is not None:
        body.update(locustfile=scenario.locustfile, thresholds=definition.get("thresholds"))
    else:
        body.update({k: definition.get(k) for k in ("requests", "wait_time_ms", "thresholds")})
    body.update(created_at=iso(scenario.created_at), updated_at=iso(scenario.updated_at))
    return body


def _apply(scenario: Scenario, spec: ScenarioSpec | LocustfileScenario) -> None:
    scenario.name, scenario.host = spec.name, spec.host
    if isinstance(spec, LocustfileScenario):
        scenario.locustfile = spec.locustfile
        scenario.definition = {"thresholds": spec.thresholds.model_dump(exclude_none=True)}
    else:
        scenario.locustfile = None
        scenario.definition = spec.model_dump(by_alias=True, exclude_none=True)


def scenarios_query(user: User):
    return owner_filter(select(Scenario), Scenario.owner, user).order_by(Scenario.created_at, Scenario.id)


def get_scenario(*, session: Session, user: User, scenario_id: str, write: bool = False) -> Scenario:
    scenario = session.get(Scenario, scenario_id)
    if scenario is None:
        raise NotFound(f"scenario {scenario_id} not found")
    (check_writable if write else check_readable)(user, scenario.owner, "scenario")
    return scenario


def create_scenario(*, session: Session, user: User, spec) -> Scenario:
    scenario = Scenario(owner=user.id)
    _apply(scenario, spec)
    session.add(scenario)
    return scenario


def replace_scenario(*, session: Session, user: User, scenario_id: str, spec) -> Scenario:
    scenario = get_scenario(session=session, user=user, scenario_id=scenario_id, write=True)
    if scenario.locustfile is not None and user.role is not Role.admin:
        raise Forbidden("only admins may change a locustfile scenario")
    _apply(scenario, spec)
    return scenario


def delete_scenario(*, session: Session, user: User, scenario_id: str) -> None:
    scenario = get_scenario(session=session, user=user, scenario_id=scenario_id, write=True)
    if active_run(session=session, scenario_id=scenario.id) is not None:
        raise Conflict("the scenario has an active run; stop it first")
    session.delete(scenario)


# --- runs -----------------------------------------------------------------------------------


def run_to_dict(run: Run) -> dict[str, Any]:
    body = run.run_fields()
    body.update(
        scenario_id=run.scenario_id,
        scenario_name=run.scenario_name,
        params=run.params,
        elapsed_ms=run.elapsed_ms,
        users=run.users,
        worker_count=run.worker_count,
        stats=run.stats,
        history=run.history or [],
        thresholds=run.thresholds or [],
        report_url=f"{API}/runs/{run.id}/report.html" if run.report_html else None,
        stats_csv_url=f"{API}/runs/{run.id}/stats.csv" if run.stats_csv else None,
    )
    return body


def active_run(*, session: Session, scenario_id: str) -> Run | None:
    return run_service.active_run(session, Run.scenario_id, scenario_id)


def latest_run(*, session: Session, scenario_id: str) -> Run | None:
    return run_service.latest_run(session, Run.scenario_id, scenario_id)


def runs_of_scenario_query(scenario_id: str):
    return run_service.runs_of(Run.scenario_id, scenario_id)


def get_run(*, session: Session, user: User, run_id: str) -> Run:
    return run_service.get_readable_run(session, Run, user, run_id)


def validated_params(body: dict, settings) -> RunParams:
    """Run parameters within PERF_MAX_USERS and PERF_MAX_RUN_TIME; 422 naming the field."""
    fields = {k: v for k, v in body.items() if k != "priority"}
    return parse_run_params(fields, max_users=settings.perf_max_users, max_run_seconds=settings.max_run_seconds,
                            max_workers=settings.perf_max_workers)  # fmt: skip


def start_run(*, session: Session, celery: Celery, scenario: Scenario, params: RunParams, priority: int,
              allowed_hosts: str) -> Run:  # fmt: skip
    """Insert a queued run owned by the scenario's owner and enqueue it; 409 while one is active."""
    check_allowed_host(scenario.host, allowed_hosts)
    if active_run(session=session, scenario_id=scenario.id) is not None:
        raise Conflict("a run of this scenario is already queued or running")
    run = Run(
        owner=scenario.owner,
        scenario_id=scenario.id,
        scenario_name=scenario.name,
        state=RunState.queued,
        priority=priority,
        params=params.model_dump(),
        attempts=0,
        elapsed_ms=0,
        users=0,
        worker_count=0,
    )
    return run_service.enqueue_run(session, celery, run, names.PERF_RUN_SCENARIO, time_limit_s=params.run_time + 120)


def stop_run(*, session: Session, redis: Redis, celery: Celery, scenario: Scenario) -> Run:
    run = active_run(session=session, scenario_id=scenario.id)
    if run is None:
        raise Conflict("the scenario has no active run")
    run_service.stop_active(session, redis, celery, run)
    return run
