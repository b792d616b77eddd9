"""The web-test service: create_app() builds its Flask API."""

from __future__ import annotations

from flask import Flask

from shared import paths
from shared.app_factory import create_service_app
from web_test_service.config import WebTestSettings, get_settings


def create_app(settings: WebTestSettings | None = None) -> Flask:
    """Build the API app; tests pass their own settings."""
    from web_test_service.views import project_runs, projects, runs, scripts

    blueprints = [(paths.SCRIPTS, scripts.bp), (paths.WEB_RUNS, runs.bp), (paths.PROJECTS, projects.bp)]
    blueprints.append((paths.PROJECT_RUNS, project_runs.bp))
    return create_service_app(
        __name__, settings or get_settings(), tasks="web_test_service.tasks", blueprints=blueprints
    )
