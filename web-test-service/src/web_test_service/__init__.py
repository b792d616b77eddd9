"""The web-test service: create_app() builds its Flask API."""

from __future__ import annotations

from flask import Flask

from shared import paths
from shared.app_factory import create_service_app
from shared.celery_factory import make_celery
from web_test_service.config import WebTestSettings, get_settings


def create_app(settings: WebTestSettings | None = None) -> Flask:
    """Build the API app; tests pass their own settings."""
    settings = settings or get_settings()
    app = create_service_app(__name__, settings)
    make_celery(settings.service_name, settings, include=["web_test_service.tasks"], flask_app=app)
    register_blueprints(app)
    return app


def register_blueprints(app: Flask) -> None:
    from web_test_service.views import runs, scripts

    app.register_blueprint(scripts.bp, url_prefix=paths.SCRIPTS)
    app.register_blueprint(runs.bp, url_prefix=paths.WEB_RUNS)
