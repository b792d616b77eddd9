"""/projects: import a Selenium IDE .side as a project, list, read, re-import, delete; run it, its run history."""

from __future__ import annotations

from flask import Blueprint, request

from shared.app_factory import resources
from shared.auth import current_user, require_role
from shared.body import json_object
from shared.db import current_session
from shared.errors import BadRequest
from shared.openapi import PAGE_QUERY, document
from shared.pagination import paginate
from shared.query_params import query_schema, read_query, text_param
from shared.responses import respond
from web_test_service import project_run_lists, project_runs, projects
from web_test_service.schemas import (
    MAX_SIDE_ID,
    ProjectDetail,
    ProjectImport,
    ProjectList,
    ProjectRead,
    ProjectRunList,
    ProjectRunRead,
    ProjectRunRequest,
)

bp = Blueprint("projects", __name__)
SIDE_BODY = {"type": "object", "description": "a Selenium IDE .side project (JSON body or multipart `file`)"}
SIDE_ID = text_param("side_id", MAX_SIDE_ID)


def side_document() -> bytes | dict:
    """The request's .side project: a multipart field `file`, or the JSON body; 400 for anything else."""
    upload = request.files.get("file")
    if upload is not None:
        return upload.read()
    if request.is_json:
        return json_object()
    raise BadRequest("send the .side project as a JSON body or as a multipart field named 'file'")


def import_limits() -> projects.ImportLimits:
    """The service's bounds on an import: WEB_MAX_RUN_SECONDS and WEB_ALLOWED_HOSTS."""
    settings = resources().settings
    return projects.ImportLimits(settings.max_run_seconds * 1000, settings.host_policy)


@bp.post("")
@require_role("tester")
@document(
    "Import a .side as a new project: one script per test, and its suites.",
    body=SIDE_BODY,
    response=ProjectImport,
    status=201,
)
def create_project():
    """Import a project."""
    raw = side_document()
    created = projects.create_project(session=current_session(), user=current_user(), raw=raw, limits=import_limits())
    return respond(ProjectImport, created, 201)


@bp.get("")
@require_role("viewer")
@document(
    "List the projects you may see; `side_id`: only those of that Selenium IDE project id (to re-import it).",
    response=ProjectList,
    query=PAGE_QUERY | query_schema(SIDE_ID),
)
def list_projects():
    """List projects."""
    (side_id,) = read_query(SIDE_ID)
    return paginate(current_session(), projects.projects_query(current_user(), side_id=side_id), ProjectRead)


@bp.get("/<project_id>")
@require_role("viewer")
@document("Read a project with its suites and its scripts, in run order.", response=ProjectDetail)
def read_project(project_id: str):
    """Read a project."""
    found = projects.read_project(session=current_session(), user=current_user(), project_id=project_id)
    return respond(ProjectDetail, found)


@bp.put("/<project_id>")
@require_role("tester")
@document(
    "Re-import an updated .side: tests keep their scripts (and runs) by IDE test id; removed tests are deleted "
    "(409 while one runs).",
    body=SIDE_BODY,
    response=ProjectImport,
    errors=(409,),
)
def reimport_project(project_id: str):
    """Re-import a project."""
    session, user, raw = current_session(), current_user(), side_document()
    updated = projects.reimport_project(
        session=session, user=user, project_id=project_id, raw=raw, limits=import_limits()
    )
    return respond(ProjectImport, updated)


@bp.delete("/<project_id>")
@require_role("tester")
@document(
    "Delete a project and its scripts (their runs stay in history); 409 while one runs.", status=204, errors=(409,)
)
def delete_project(project_id: str):
    """Delete a project."""
    projects.delete_project(session=current_session(), user=current_user(), project_id=project_id)
    return "", 204


@bp.post("/<project_id>/run")
@require_role("tester")
@document(
    "Run the project (or one `suite`, or the tests `filter` matches): 202 with the project run and a child run "
    "per test. Suites run side by side, a suite's tests in order (all at once if `parallel`).",
    body=ProjectRunRequest,
    response=ProjectRunRead,
    status=202,
)
def run_project(project_id: str):
    """Start a project run."""
    session, user = current_session(), current_user()
    project = projects.get_project(session=session, user=user, project_id=project_id, write=True)
    run_request = ProjectRunRequest.model_validate(json_object(optional=True))
    scripts = projects.project_scripts(session, project.id)
    app = resources()
    started = project_runs.start_project_run(
        session=session,
        celery=app.celery,
        project=project,
        scripts=scripts,
        request=run_request,
        lane_budget_s=app.settings.lane_budget_s,
    )
    return respond(ProjectRunRead, project_runs.project_run_detail(session, started), 202)


@bp.get("/<project_id>/runs")
@require_role("viewer")
@document("The project's runs, newest first.", response=ProjectRunList, query=PAGE_QUERY)
def list_project_runs(project_id: str):
    """Project run history."""
    session, user = current_session(), current_user()
    project = projects.get_project(session=session, user=user, project_id=project_id)
    listed = project_run_lists.list_project_runs(session=session, user=user, project_id=project.id)
    return respond(ProjectRunList, listed)
