"""GET /api/v1/scheduler/status."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from scheduler_service.status import beat_status, platform_status
from shared.auth import require_role
from shared.openapi import document

bp = Blueprint("status", __name__)


@bp.get("/status")
@require_role("viewer")
@document("Every service's readiness, the workers online, every queue's length and the active beat.")
def status():
    """Every service's readiness, the workers online, every queue's length and the active beat."""
    settings = current_app.extensions["settings"]
    client = current_app.extensions["redis"]
    body = platform_status(client, settings.ready_urls, settings.ready_check_timeout_s)
    body["beat"] = beat_status(client, settings.beat_tick_limit_s)
    return jsonify(body)
