"""Scenarios and runs: the plain functions behind the views (no Flask request inside)."""

from __future__ import annotations

from celery import Celery
from sqlalchemy import select
from sqlalchemy.orm import Session

from perf_test_service.config import RUN_OVERHEAD_S
from perf_test_service.models import RUNS, Run, Scenario
from perf_test_service.runner.locustfile import check_locustfile
from perf_test_service.scenario import RunParams, parse_run_params
from perf_test_service.scenario import Scenario as ScenarioSpec
from perf_test_service.schemas import LocustfileScenario, RunBody
from shared.auth import Role, User, load_owned, owner_filter
from shared.errors import Forbidden, Unprocessable
from shared.host_policy import HostNotAllowed, HostPolicy
from shared.runs import api as runs
from shared.runs.idempotency import IdempotencyKey


def parse_scenario(body: dict, user: User, policy: HostPolicy) -> ScenarioSpec | LocustfileScenario:
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
    check_allowed_host(spec.host, policy)
    return spec


def check_allowed_host(host: str, policy: HostPolicy) -> None:
    try:
        policy.check_url(host)
    except HostNotAllowed as exc:
        raise Unprocessable(f"host: {exc}", details=[{"field": "host", "message": str(exc)}]) from None


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
    """Load a scenario the user may read (or change); 404 otherwise."""
    return load_owned(session, Scenario, scenario_id, user, "scenario", write=write)


def create_scenario(*, session: Session, user: User, spec) -> Scenario:
    scenario = Scenario(owner=user.id)
    _apply(scenario, spec)
    session.add(scenario)
    session.commit()
    return scenario


def replace_scenario(*, session: Session, user: User, scenario_id: str, spec) -> Scenario:
    scenario = get_scenario(session=session, user=user, scenario_id=scenario_id, write=True)
    if scenario.locustfile is not None and user.role is not Role.admin:
        raise Forbidden("only admins may change a locustfile scenario")
    _apply(scenario, spec)
    session.commit()
    return scenario


# --- runs -----------------------------------------------------------------------------------


def validated_params(body: dict, settings) -> RunParams:
    """Run parameters within PERF_MAX_USERS and PERF_MAX_RUN_TIME; 422 naming the field."""
    fields = {k: v for k, v in body.items() if k != "priority"}
    limits = {"max_users": settings.perf_max_users, "max_run_seconds": settings.max_run_seconds}
    return parse_run_params(fields, max_workers=settings.perf_max_workers, **limits)


def start_run(
    *, session: Session, celery: Celery, scenario: Scenario, body: dict, settings, key: IdempotencyKey | None = None
) -> runs.Submission:
    """Insert a queued run owned by the scenario's owner and enqueue it; 409 while one is active.

    With an Idempotency-Key, a repeat of an earlier start answers with that start's run.
    """
    priority = RunBody.model_validate({"priority": body.get("priority", 5)}).priority
    params = validated_params(body, settings)
    check_allowed_host(scenario.host, settings.host_policy)
    run = Run(
        owner=scenario.owner,
        scenario_id=scenario.id,
        scenario_name=scenario.name,
        priority=priority,
        time_limit_s=int(params.run_time) + RUN_OVERHEAD_S,
        params=params.model_dump(),
    )
    return runs.submit_run(session, celery, RUNS, run, key)
