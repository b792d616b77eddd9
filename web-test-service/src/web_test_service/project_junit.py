"""The JUnit report of a project run: its tests' attempts, as build_project_junit_xml (junit.py) takes them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from shared import paths
from shared.runs.states import RunState
from web_test_service.models import ProjectRun, Run
from web_test_service.project_runs import attempts_by_test
from web_test_service.service import junit_case


def junit_suites(session: Session, project_run: ProjectRun, url_root: str) -> list[dict[str, Any]]:
    """The project run as build_project_junit_xml takes it: per suite, per test its last attempt and the earlier.

    A failing test links to its failed step's screenshot (else to its artifacts), as an absolute URL.
    """
    query = select(Run).options(selectinload(Run.steps)).where(Run.project_run_id == project_run.id)
    tests = attempts_by_test(
        list(session.execute(query.order_by(Run.suite_index, Run.position, Run.attempt)).scalars())
    )
    suites = []
    for index, suite in enumerate(project_run.suites):
        cases = []
        for position in range(len(suite["tests"])):
            attempts = tests.get((index, position))
            if not attempts:
                continue
            latest, case = attempts[-1], junit_case(attempts[-1])
            case |= {"run_id": latest.id, "flaky": latest.flaky, "earlier": [junit_case(a) for a in attempts[:-1]]}
            if latest.state in (RunState.failed, RunState.error):
                shots = [step["screenshot_url"] for step in case["steps"] if step.get("screenshot_url")]
                link = shots[-1] if shots else (paths.web_artifacts(latest.id) if latest.started_at else None)
                case["screenshot_url"] = url_root.rstrip("/") + link if link else None
            cases.append(case)
        suites.append({"name": suite["name"], "cases": cases})
    return suites
