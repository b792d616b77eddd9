"""The perf-test service: create_app() builds its Flask API."""

from __future__ import annotations

from flask import Flask

from perf_test_service.config import PerfTestSettings, get_settings
from shared import paths
from shared.app_factory import create_service_app
from shared.celery_factory import make_celery


def create_app(settings: PerfTestSettings | None = None) -> Flask:
    """Build the API app; tests pass their own settings."""
    settings = settings or get_settings()
    app = create_service_app(__name__, settings)
    make_celery(settings.service_name, settings, include=["perf_test_service.tasks"], flask_app=app)
    register_blueprints(app)
    return app


def register_blueprints(app: Flask) -> None:
    from perf_test_service.views import runs, scenarios

    app.register_blueprint(scenarios.bp, url_prefix=paths.SCENARIOS)
    app.register_blueprint(runs.bp, url_prefix=paths.PERF_RUNS)
