"""Settings of the scheduler service (API, beat, maintenance worker)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field

from shared.config import BaseServiceSettings


class SchedulerSettings(BaseServiceSettings):
    service_name = "scheduler"

    # Maintenance tasks are short; this bounds their Celery time limits.
    max_run_seconds: int = Field(default=300, gt=0, validation_alias="MAINTENANCE_MAX_RUN_SECONDS")
    # RedBeat's lock: a standby beat takes over this many seconds after the holder dies.
    beat_lock_timeout_s: int = Field(default=30, ge=5)
    beat_max_loop_interval_s: int = Field(default=5, ge=1)


@lru_cache
def get_settings() -> SchedulerSettings:
    """The process's settings, read from the environment once."""
    return SchedulerSettings()
