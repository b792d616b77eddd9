"""Settings of the perf-test service (API and worker)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field

from shared.config import BaseServiceSettings


class PerfTestSettings(BaseServiceSettings):
    service_name = "perf-test"

    # PERF_MAX_RUN_TIME caps a run's run_time; Celery's limits derive from it.
    max_run_seconds: int = Field(default=3600, gt=0, validation_alias="PERF_MAX_RUN_TIME")
    perf_max_users: int = Field(default=1000, gt=0)
    # Local Locust worker processes a run may ask for (one saturates a core).
    perf_max_workers: int = Field(default=8, ge=0)
    # Each run's Locust files (locustfile, report, CSV) live under VAR_DIR/perf-runs/<run id>.
    # Comma-separated hosts or fnmatch patterns a scenario may target (default: loopback).
    perf_allowed_hosts: str = "127.0.0.1,localhost,::1"


@lru_cache
def get_settings() -> PerfTestSettings:
    """The process's settings, read from the environment once."""
    return PerfTestSettings()
