"""Settings of the console service (accounts, API tokens, pages)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field, model_validator

from shared import names
from shared.config import BaseServiceSettings
from shared.db import ID_PATTERN

# Development-only first admin: `make up` prints it; any other ENVIRONMENT refuses it.
DEV_ADMIN_PASSWORD = "testfleet-admin"  # noqa: S105 (refused outside development)
# A checkout keeps the npm packages beside pyproject.toml (scripts/install.sh runs `npm ci` there).
CHECKOUT_ASSETS = Path(__file__).resolve().parents[2]


class ConsoleSettings(BaseServiceSettings):
    service_name = names.CONSOLE_SERVICE

    # The first admin, created at first start when no account exists yet.
    admin_user: str = Field(
        default="admin", pattern=f"^{ID_PATTERN}$", validation_alias=AliasChoices("TESTFLEET_ADMIN_USER", "admin_user")
    )
    admin_password: str = Field(
        default=DEV_ADMIN_PASSWORD, validation_alias=AliasChoices("TESTFLEET_ADMIN_PASSWORD", "admin_password")
    )

    # A login lasts this long; a cookie marked Secure when the request came over HTTPS (X-Forwarded-Proto from
    # the gateway), or always with CONSOLE_SECURE_COOKIES=true.
    session_ttl_s: int = Field(default=12 * 3600, gt=0)
    console_secure_cookies: bool = False
    # Failed logins: this many are free, then each further attempt waits twice as long, up to the maximum.
    login_free_failures: int = Field(default=3, ge=1)
    login_max_delay_s: int = Field(default=60, ge=1)
    login_failure_window_s: int = Field(default=15 * 60, ge=60)
    # API tokens: the longest life a token may be given, in days.
    api_token_max_days: int = Field(default=365, ge=1)

    # Where the pages call the other services' public REST APIs, as the logged-in user.
    web_test_url: str = "http://127.0.0.1:5001"
    perf_test_url: str = "http://127.0.0.1:5002"
    scheduler_url: str = "http://127.0.0.1:5003"
    api_timeout_s: float = Field(default=10, gt=0)
    # The folder holding node_modules/ with htmx and uPlot (compose and k8s images put it elsewhere).
    console_assets_dir: Path = CHECKOUT_ASSETS

    @model_validator(mode="after")
    def _refuse_dev_admin_outside_development(self) -> ConsoleSettings:
        # The migration step (tokenless, shared/src/shared/cli.py) creates no admin and is given no password.
        if self.uses_tokens and self.environment != "development":
            if self.admin_password == DEV_ADMIN_PASSWORD:
                raise ValueError("TESTFLEET_ADMIN_PASSWORD must be set outside development")
            if len(self.admin_password) < 12:
                raise ValueError("TESTFLEET_ADMIN_PASSWORD must be at least 12 characters outside development")
        return self


@lru_cache
def get_settings() -> ConsoleSettings:
    """The process's settings, read from the environment once."""
    return ConsoleSettings()
