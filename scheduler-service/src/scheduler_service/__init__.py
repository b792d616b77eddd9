"""The scheduler service: create_app() builds its Flask API (schedules, status)."""

from __future__ import annotations

from flask import Flask

from scheduler_service.config import SchedulerSettings, get_settings
from shared.app_factory import create_service_app
from shared.celery_factory import make_celery


def create_app(settings: SchedulerSettings | None = None) -> Flask:
    """Build the API app; tests pass their own settings."""
    settings = settings or get_settings()
    app = create_service_app(__name__, settings)
    celery_app = make_celery(settings.service_name, settings, include=["scheduler_service.tasks"], flask_app=app)
    celery_app.conf.update(
        redbeat_redis_url=settings.redis_url,
        redbeat_key_prefix="testfleet:redbeat:",
        redbeat_lock_timeout=settings.beat_lock_timeout_s,
        beat_max_loop_interval=settings.beat_max_loop_interval_s,
        beat_schedule={},  # entries arrive with the scheduler issue
    )
    register_blueprints(app)
    return app


def register_blueprints(app: Flask) -> None:
    from scheduler_service.views.status import bp as status_bp

    app.register_blueprint(status_bp, url_prefix="/api/v1/scheduler")
