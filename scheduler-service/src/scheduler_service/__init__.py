"""The scheduler service: create_app() builds its Flask API (schedules, jobs, status)."""

from __future__ import annotations

from flask import Flask

from scheduler_service.beat import beat_check
from scheduler_service.config import SchedulerSettings, get_settings
from scheduler_service.entries import beat_schedule
from shared import paths
from shared.app_factory import create_service_app
from shared.celery_factory import make_celery


def create_app(settings: SchedulerSettings | None = None) -> Flask:
    """Build the API app; tests pass their own settings."""
    settings = settings or get_settings()
    checks = {"beat": beat_check(settings.redis_url, settings.beat_tick_limit_s, settings.ready_check_timeout_s)}
    app = create_service_app(__name__, settings, extra_checks=checks)
    celery_app = make_celery(settings.service_name, settings, include=["scheduler_service.tasks"], flask_app=app)
    celery_app.conf.update(
        redbeat_redis_url=settings.redis_url,
        # Timeouts so a dead Redis fails beat's calls instead of hanging them.
        redbeat_redis_options={"socket_timeout": 10, "socket_connect_timeout": 5, "health_check_interval": 30},
        redbeat_key_prefix="testfleet:redbeat:",
        redbeat_lock_timeout=settings.beat_lock_timeout_s,
        beat_max_loop_interval=settings.beat_max_loop_interval_s,
        beat_schedule=beat_schedule(settings),
    )
    register_blueprints(app)
    return app


def register_blueprints(app: Flask) -> None:
    from scheduler_service.views.jobs import bp as jobs_bp
    from scheduler_service.views.schedules import bp as schedules_bp
    from scheduler_service.views.status import bp as status_bp

    app.register_blueprint(status_bp, url_prefix=paths.SCHEDULER)
    app.register_blueprint(jobs_bp, url_prefix=paths.SCHEDULER)
    app.register_blueprint(schedules_bp, url_prefix=paths.SCHEDULES)
