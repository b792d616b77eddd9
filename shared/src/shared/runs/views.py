"""The routes every run target (a script, a scenario) has: delete, latest status, stop, history; the
answer to a start."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request
from pydantic import BaseModel

from shared.app_factory import resources
from shared.auth import current_user, load_owned, require_role
from shared.db import current_session
from shared.openapi import PAGE_QUERY, document
from shared.pagination import paginate
from shared.query_params import choice_param
from shared.responses import respond
from shared.runs import api
from shared.runs.idempotency import HEADER, HEADER_PARAMETER, REPLAYED_HEADER, IdempotencyKey, parse_idempotency_key
from shared.runs.kind import RunKind
from shared.runs.schemas import RunAccepted
from shared.runs.states import RunState

# The request headers of every start route, for its OpenAPI document.
START_HEADERS = {HEADER: HEADER_PARAMETER}
# ?state= of every list of runs (web runs, project runs, load runs).
RUN_STATE = choice_param("state", [state.value for state in RunState])


def requested_idempotency_key(target_id: str, body: Any) -> IdempotencyKey | None:
    """The start request's Idempotency-Key header, bound to the caller, the target and the body."""
    return parse_idempotency_key(
        request.headers.get(HEADER), requester=current_user().id, target_id=target_id, body=body
    )


def respond_started(submission: api.Submission) -> tuple[Response, int]:
    """202 with the run; a replay (the key's earlier run) says so in `replayed` and in a header."""
    run = submission.run
    accepted = {"run_id": run.id, "task_id": run.task_id, "state": run.state, "replayed": submission.replayed}
    response, status = respond(RunAccepted, accepted, 202)
    if submission.replayed:
        response.headers[REPLAYED_HEADER] = "true"
    return response, status


def add_target_routes(
    bp: Blueprint,
    kind: RunKind,
    run_read: type[BaseModel],
    no_run_yet: type[BaseModel],
    history: type[BaseModel],
    *,
    status_summary: str,
    stop_summary: str,
) -> None:
    """Route DELETE /<id>, /<id>/status, /<id>/stop and /<id>/runs of the kind's target on bp."""
    noun = kind.target_noun
    target_id = f"<{noun}_id>"

    def target(path: dict[str, str], write: bool = False):
        return load_owned(current_session(), kind.target_model, path[f"{noun}_id"], current_user(), noun, write=write)

    @bp.delete(f"/{target_id}")
    @require_role("tester")
    @document(f"Delete a {noun} (its runs stay in history); 409 while it has an active run.", status=204, errors=(409,))
    def delete(**path: str):
        """Delete the target."""
        api.delete_target(current_session(), kind, current_user(), path[f"{noun}_id"])
        return "", 204

    @bp.get(f"/{target_id}/status")
    @require_role("viewer")
    @document(status_summary, response=(run_read, no_run_yet))
    def status(**path: str):
        """Latest run of the target."""
        found = target(path)
        run = api.latest_run(current_session(), kind, found.id)
        return respond(run_read, run) if run is not None else respond(no_run_yet, {f"{noun}_id": found.id})

    @bp.post(f"/{target_id}/stop")
    @require_role("tester")
    @document(stop_summary, response=run_read, status=202, errors=(409,))
    def stop(**path: str):
        """Stop the active run."""
        found, app = target(path, write=True), resources()
        return respond(run_read, api.stop_active(current_session(), app.redis, app.celery, kind, found.id), 202)

    @bp.get(f"/{target_id}/runs")
    @require_role("viewer")
    @document(f"Run history of the {noun}, newest first.", response=history, query=PAGE_QUERY)
    def runs(**path: str):
        """Run history."""
        return paginate(current_session(), api.runs_of(kind, target(path).id), run_read)
