"""The console's pages: one module per page family, each with its blueprint."""

from __future__ import annotations

from flask import Blueprint


def page_blueprints() -> list[Blueprint]:
    """Every page blueprint, registered at the site's root."""
    from console_service.pages import (
        assets,
        dashboard,
        load_runs,
        login,
        projects,
        scenarios,
        schedules,
        tokens,
        users,
        web_runs,
    )

    return [assets.bp, login.bp, dashboard.bp, tokens.bp, users.bp, projects.bp, web_runs.bp, scenarios.bp,
            load_runs.bp, schedules.bp]  # fmt: skip
