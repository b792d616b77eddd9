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
    # Where /status asks each service's /ready (compose and k8s point these at services).
    web_test_url: str = "http://127.0.0.1:5001"
    perf_test_url: str = "http://127.0.0.1:5002"
    scheduler_url: str = "http://127.0.0.1:5003"

    @property
    def ready_urls(self) -> dict[str, str]:
        return {
            "web-test": f"{self.web_test_url}/api/v1/web-test/ready",
            "perf-test": f"{self.perf_test_url}/api/v1/perf-test/ready",
            "scheduler": f"{self.scheduler_url}/api/v1/scheduler/ready",
        }


@lru_cache
def get_settings() -> SchedulerSettings:
    """The process's settings, read from the environment once."""
    return SchedulerSettings()
