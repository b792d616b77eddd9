"""GET /api/v1/scheduler/jobs: the latest runs of the system jobs (cleanup, reaper)."""

from __future__ import annotations

from flask import Blueprint, request

from scheduler_service import service as scheduler
from scheduler_service.schemas import JobRunList, JobRunRead
from shared import names
from shared.auth import Role, current_user, require_role
from shared.db import current_session
from shared.errors import Forbidden, Unprocessable
from shared.openapi import PAGE_QUERY, document
from shared.pagination import paginate

bp = Blueprint("jobs", __name__)


@bp.get("/jobs")
@require_role("viewer")
@document(
    "The latest runs of the system jobs, newest first (viewers and admins).",
    response=JobRunList,
    errors=(403,),
    query={
        "job": {"type": "string", "enum": list(names.SYSTEM_JOBS)},
        **PAGE_QUERY,
    },
)
def list_jobs():
    """The latest runs of the system jobs, newest first (viewers and admins)."""
    # Testers see only what they own, and nobody owns system jobs.
    if current_user().role is Role.tester:
        raise Forbidden("system jobs are visible to viewers and admins")
    job = request.args.get("job") or None
    if job is not None and job not in names.SYSTEM_JOBS:
        raise Unprocessable(
            f"job: must be one of {', '.join(names.SYSTEM_JOBS)}",
            details=[{"field": "job", "message": f"unknown job {job!r}"}],
        )
    return paginate(current_session(), scheduler.job_runs_query(job=job), JobRunRead)
