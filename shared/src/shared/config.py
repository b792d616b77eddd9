"""Typed settings, read from the environment once, with local defaults that need no setup."""

from __future__ import annotations

import secrets
from functools import cache, cached_property
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar, cast

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Development-only secret: `make up` prints it; any other ENVIRONMENT refuses it.
DEV_AUTH_SECRET = "testfleet-dev-secret-change-me-0123456789abcdef"  # noqa: S105 (refused outside development)

# A task gets its soft limit this long after its run's own limit (time to save what it has), its hard
# limit later still (the soft limit's handlers close the browser or Locust), and Redis redelivers a
# message only after a further margin, so a run that is still alive is never delivered twice.
SOFT_LIMIT_MARGIN_S = 30
HARD_LIMIT_MARGIN_S = 60
VISIBILITY_MARGIN_S = 300


class BaseServiceSettings(BaseSettings):
    """Settings every process reads; each service subclasses it."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    service_name: ClassVar[str] = "testfleet"
    # Whether this process verifies or signs bearer tokens (the APIs, the scheduler's processes, `make token`).
    # Workers that do neither read their settings through tokenless(): they need no AUTH_SECRET (see below).
    uses_tokens: ClassVar[bool] = True

    environment: Literal["development", "test", "production"] = "development"
    auth_secret: str = DEV_AUTH_SECRET
    token_ttl_s: int = Field(default=12 * 3600, gt=0)
    redis_url: str = "redis://127.0.0.1:6379/0"
    database_url: str | None = None
    var_dir: Path = Path("var")
    max_body_bytes: int = Field(default=10 * 1024 * 1024, gt=0)
    result_retention_days: int = Field(default=30, ge=1)
    # The longest run any task of this service may take; Celery limits derive from it.
    max_run_seconds: int = Field(default=3600, gt=0)
    # One value for every process of the platform: kombu's Redis transport re-delivers every unacked
    # message in the broker older than the timeout of whichever worker sweeps, so a per-service value
    # would let the shortest one re-deliver another service's long run while it is still running.
    broker_visibility_timeout_s: int = Field(default=2 * 3600, gt=0)
    ready_check_timeout_s: float = Field(default=2.0, gt=0)
    worker_alive_ttl_s: int = Field(default=15, gt=2)
    log_level: str = "INFO"
    # host:port of the platform's own listeners (APIs, gateway, Flower) that no test may reach; Redis and
    # the database are taken from REDIS_URL and DATABASE_URL (see shared/src/shared/host_policy.py).
    platform_endpoints: str = ""

    @model_validator(mode="after")
    def _visibility_above_the_longest_task(self) -> BaseServiceSettings:
        needed = self.longest_task_s + VISIBILITY_MARGIN_S
        if self.broker_visibility_timeout_s < needed:
            raise ValueError(
                f"BROKER_VISIBILITY_TIMEOUT_S ({self.broker_visibility_timeout_s}) must be at least {needed}: "
                f"this service's longest task may take {self.longest_task_s} s, and Redis would deliver it twice"
            )
        return self

    @model_validator(mode="before")
    @classmethod
    def _tokenless_processes_need_no_secret(cls, data: Any) -> Any:
        # Not given AUTH_SECRET (deploy/ gives it only to processes that use it): a random key nobody knows, so
        # nothing this process could ever sign or verify means anything, and the development key is never used.
        if not cls.uses_tokens and isinstance(data, dict) and not data.get("auth_secret"):
            return {**data, "auth_secret": secrets.token_hex(32)}
        return data

    @model_validator(mode="after")
    def _refuse_dev_secret_outside_development(self) -> BaseServiceSettings:
        if self.uses_tokens and self.environment != "development":
            if self.auth_secret == DEV_AUTH_SECRET:
                raise ValueError("AUTH_SECRET must be set outside development")
            if len(self.auth_secret) < 32:
                raise ValueError("AUTH_SECRET must be at least 32 characters outside development")
        return self

    @cached_property
    def resolved_var_dir(self) -> Path:
        """Return the absolute var directory, created on first use."""
        path = self.var_dir.resolve()
        path.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def sqlalchemy_url(self) -> str:
        """Return DATABASE_URL, or a SQLite file under var/ named after the service."""
        if self.database_url:
            return normalize_database_url(self.database_url)
        return f"sqlite:///{self.resolved_var_dir / (self.service_name + '.db')}"

    @property
    def task_soft_time_limit(self) -> int:
        return self.max_run_seconds + SOFT_LIMIT_MARGIN_S

    @property
    def task_time_limit(self) -> int:
        return self.max_run_seconds + HARD_LIMIT_MARGIN_S

    @property
    def longest_task_s(self) -> int:
        """The hard time limit of this service's longest allowed task."""
        return self.task_time_limit

    @property
    def visibility_timeout(self) -> int:
        return self.broker_visibility_timeout_s


S = TypeVar("S", bound=BaseServiceSettings)


@cache
def tokenless(settings_class: type[S]) -> type[S]:
    """settings_class for a process that neither verifies nor signs tokens (web and perf workers): no AUTH_SECRET."""
    namespace = {"uses_tokens": False, "__module__": settings_class.__module__, "__doc__": tokenless.__doc__}
    return cast(type[S], type(f"Tokenless{settings_class.__name__}", (settings_class,), namespace))


def normalize_database_url(url: str) -> str:
    """Use the psycopg 3 driver for plain postgres:// and postgresql:// URLs."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url
