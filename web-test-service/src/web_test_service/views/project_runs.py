"""/project-runs: the project runs you may see; a project run's live state, its JUnit report, stop."""

from __future__ import annotations

from flask import Blueprint, Response, request

from shared.app_factory import resources
from shared.auth import current_user, require_role
from shared.db import current_session
from shared.openapi import PAGE_QUERY, document
from shared.query_params import id_param, query_schema, read_query
from shared.responses import respond
from shared.runs.views import RUN_STATE
from web_test_service import project_junit, project_run_lists, project_runs
from web_test_service.junit import build_project_junit_xml
from web_test_service.schemas import ProjectRunList, ProjectRunRead

bp = Blueprint("project_runs", __name__)
FILTERS = (RUN_STATE, id_param("project_id"))


@bp.get("")
@require_role("viewer")
@document(
    "The project runs you may see, newest first; only those in `state` or of `project_id`.",
    response=ProjectRunList,
    query=PAGE_QUERY | query_schema(*FILTERS),
)
def list_project_runs():
    """List project runs."""
    state, project_id = read_query(*FILTERS)
    session, user = current_session(), current_user()
    listed = project_run_lists.list_project_runs(session=session, user=user, project_id=project_id, state=state)
    return respond(ProjectRunList, listed)


@bp.get("/<project_run_id>")
@require_role("viewer")
@document("A project run, live: its state (the worst test decides), counts, each suite's tests and attempts.",
          response=ProjectRunRead)  # fmt: skip
def read_project_run(project_run_id: str):
    """Read a project run."""
    session = current_session()
    found = project_runs.get_project_run(session=session, user=current_user(), project_run_id=project_run_id)
    return respond(ProjectRunRead, project_runs.project_run_detail(session, found))


@bp.post("/<project_run_id>/stop")
@require_role("tester")
@document("Stop every test of the project run (within 5 s); answers with the run as it then is.",
          response=ProjectRunRead, status=202)  # fmt: skip
def stop_project_run(project_run_id: str):
    """Stop a project run."""
    session, app = current_session(), resources()
    found = project_runs.get_project_run(
        session=session, user=current_user(), project_run_id=project_run_id, write=True
    )
    project_runs.stop_project_run(session=session, redis=app.redis, celery=app.celery, project_run=found)
    return respond(ProjectRunRead, project_runs.project_run_detail(session, found), 202)


@bp.get("/<project_run_id>/junit.xml")
@require_role("viewer")
@document("JUnit XML of the project run: a <testsuite> per suite, a <testcase> per test (retries as "
          "<flakyFailure>/<rerunFailure>).", content_type="application/xml")  # fmt: skip
def junit(project_run_id: str):
    """JUnit XML of a project run."""
    session = current_session()
    found = project_runs.get_project_run(session=session, user=current_user(), project_run_id=project_run_id)
    suites = project_junit.junit_suites(session, found, request.url_root)
    xml = build_project_junit_xml(suites, name=f"TestFleet project: {found.project_name}", timestamp=found.created_at)
    return Response(xml, mimetype="application/xml")
