"""The perf-test service: create_app() builds its Flask API."""

from __future__ import annotations

from flask import Flask

from perf_test_service.config import PerfTestSettings, get_settings
from shared import paths
from shared.app_factory import create_service_app


def create_app(settings: PerfTestSettings | None = None) -> Flask:
    """Build the API app; tests pass their own settings."""
    from perf_test_service.views import runs, scenarios

    blueprints = [(paths.SCENARIOS, scenarios.bp), (paths.PERF_RUNS, runs.bp)]
    return create_service_app(
        __name__, settings or get_settings(), tasks="perf_test_service.tasks", blueprints=blueprints
    )
