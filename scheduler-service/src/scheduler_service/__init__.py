"""The scheduler service: create_app() builds its Flask API (schedules, jobs, status, webhooks)."""

from __future__ import annotations

from flask import Flask

from scheduler_service.beat import beat_check
from scheduler_service.config import SchedulerSettings, get_settings
from scheduler_service.entries import beat_schedule
from shared import paths
from shared.app_factory import create_service_app


def create_app(settings: SchedulerSettings | None = None) -> Flask:
    """Build the API app; tests pass their own settings."""
    settings = settings or get_settings()
    checks = {"beat": beat_check(settings.redis_url, settings.beat_tick_limit_s, settings.ready_check_timeout_s)}
    from scheduler_service.views.jobs import bp as jobs_bp
    from scheduler_service.views.schedules import bp as schedules_bp
    from scheduler_service.views.status import bp as status_bp
    from scheduler_service.views.webhooks import bp as webhooks_bp

    blueprints = [(paths.SCHEDULER, status_bp), (paths.SCHEDULER, jobs_bp), (paths.SCHEDULES, schedules_bp)]
    blueprints.append((paths.WEBHOOKS, webhooks_bp))
    app = create_service_app(
        __name__, settings, tasks="scheduler_service.tasks", blueprints=blueprints, extra_checks=checks
    )
    app.extensions["celery"].conf.update(
        redbeat_redis_url=settings.redis_url,
        # Timeouts so a dead Redis fails beat's calls instead of hanging them.
        redbeat_redis_options={"socket_timeout": 10, "socket_connect_timeout": 5, "health_check_interval": 30},
        redbeat_key_prefix="testfleet:redbeat:",
        redbeat_lock_timeout=settings.beat_lock_timeout_s,
        beat_max_loop_interval=settings.beat_max_loop_interval_s,
        beat_schedule=beat_schedule(settings),
    )
    return app
