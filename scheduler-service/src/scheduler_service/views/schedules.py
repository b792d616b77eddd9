"""/api/v1/schedules: cron schedules CRUD, enable/disable, manual trigger."""

from __future__ import annotations

from flask import Blueprint, current_app

from scheduler_service import service as scheduler
from scheduler_service.schemas import (
    ScheduleCreate,
    ScheduleList,
    SchedulePatch,
    ScheduleRead,
    TriggerRead,
)
from shared.auth import current_user, require_role
from shared.body import json_object
from shared.db import current_session
from shared.openapi import PAGE_QUERY, document
from shared.pagination import paginate
from shared.responses import respond

bp = Blueprint("schedules", __name__)


def _body(model):
    return model.model_validate(json_object(optional=True))


@bp.post("")
@require_role("tester")
@document("Create a cron schedule owned by the caller.", body=ScheduleCreate, response=ScheduleRead, status=201)
def create():
    """Create a cron schedule owned by the caller."""
    schedule = scheduler.create_schedule(session=current_session(), user=current_user(), data=_body(ScheduleCreate))
    return respond(ScheduleRead, schedule, 201)


@bp.get("")
@require_role("viewer")
@document("List the schedules the caller may read, newest first.", response=ScheduleList, query=PAGE_QUERY)
def list_():
    """List the schedules the caller may read, newest first."""
    return paginate(current_session(), scheduler.schedules_query(user=current_user()), ScheduleRead)


@bp.get("/<schedule_id>")
@require_role("viewer")
@document("One schedule with its next 5 fire times.", response=ScheduleRead)
def get(schedule_id: str):
    """One schedule with its next 5 fire times."""
    return respond(
        ScheduleRead, scheduler.get_schedule(session=current_session(), user=current_user(), schedule_id=schedule_id)
    )


@bp.put("/<schedule_id>")
@require_role("tester")
@document("Replace a schedule (enabled false disables it).", body=ScheduleCreate, response=ScheduleRead)
def replace(schedule_id: str):
    """Replace a schedule (enabled false disables it)."""
    schedule = scheduler.replace_schedule(
        session=current_session(), user=current_user(), schedule_id=schedule_id, data=_body(ScheduleCreate)
    )
    return respond(ScheduleRead, schedule)


@bp.patch("/<schedule_id>")
@require_role("tester")
@document("Change some fields of a schedule, e.g. {enabled: false}.", body=SchedulePatch, response=ScheduleRead)
def patch(schedule_id: str):
    """Change some fields of a schedule, e.g. {enabled: false}."""
    schedule = scheduler.patch_schedule(
        session=current_session(), user=current_user(), schedule_id=schedule_id, data=_body(SchedulePatch)
    )
    return respond(ScheduleRead, schedule)


@bp.delete("/<schedule_id>")
@require_role("tester")
@document("Delete a schedule.", status=204)
def delete(schedule_id: str):
    """Delete a schedule."""
    scheduler.delete_schedule(session=current_session(), user=current_user(), schedule_id=schedule_id)
    return "", 204


@bp.post("/<schedule_id>/trigger")
@require_role("tester")
@document("Fire the schedule now, as its owner; 202 with the outcome.", response=TriggerRead, status=202)
def trigger(schedule_id: str):
    """Fire the schedule now, as its owner; 202 with the outcome."""
    session = current_session()
    scheduler.writable_schedule(session=session, user=current_user(), schedule_id=schedule_id)
    outcome = scheduler.fire_schedule(
        session=session, settings=current_app.extensions["settings"], schedule_id=schedule_id, trigger="manual"
    )
    if outcome is None:  # deleted between the check and the firing
        scheduler.get_schedule(session=session, user=current_user(), schedule_id=schedule_id)
    return respond(TriggerRead, {**outcome, "schedule_id": schedule_id}, 202)
