"""Settings of the scheduler service (API, beat, maintenance worker)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field, field_validator

from scheduler_service.cron import validate_cron
from shared import names, paths
from shared.config import BaseServiceSettings
from shared.host_policy import HostPolicy, endpoints_of_urls, internal_endpoints


class SchedulerSettings(BaseServiceSettings):
    service_name = "scheduler"

    # Maintenance tasks are short; this bounds their Celery time limits.
    max_run_seconds: int = Field(default=300, gt=0, validation_alias="MAINTENANCE_MAX_RUN_SECONDS")
    # RedBeat's lock: a standby beat takes over this many seconds after the holder dies.
    beat_lock_timeout_s: int = Field(default=30, ge=5)
    beat_max_loop_interval_s: int = Field(default=5, ge=1)
    # /ready fails when the active beat's last tick is older than this (default 3 loops + 10 s).
    beat_tick_max_age_s: float | None = Field(default=None, gt=0)
    # How long a fired (entry, slot) key lives; it only has to outlast a split-brain overlap.
    beat_fire_guard_ttl_s: int = Field(default=600, ge=10)
    # A diagnostic entry sending maintenance.ping every N seconds (off unless set).
    beat_ping_interval_s: float | None = Field(default=None, gt=0)

    # System jobs: the daily cleanup (UTC cron) and the reaper of runs whose worker is gone.
    cleanup_cron: str = "0 2 * * *"
    # A run is reaped only when its heartbeat_at is older than the timeout AND its Redis lock is gone; the
    # lock (refreshed every 5 s, TTL 30 s: shared.runs) is what proves a holder alive, so a database outage
    # that delays heartbeat_at never reaps a live run. 30 s + a 15 s interval settle or requeue a run whose
    # whole worker was SIGKILLed within ~45 s (well inside a minute), at one cheap query every 15 s.
    reaper_interval_s: float = Field(default=15, gt=0)
    reaper_heartbeat_timeout_s: int = Field(default=30, gt=0)

    # Cron schedules: how often beat asks the maintenance worker which slots are due, how
    # late a slot may still fire (after beat downtime), and the HTTP timeout of a firing.
    schedule_evaluate_interval_s: float = Field(default=60, gt=0)
    schedule_misfire_grace_s: int = Field(default=300, gt=0)
    schedule_fire_timeout_s: float = Field(default=10, gt=0)
    schedule_token_ttl_s: int = Field(default=300, ge=30)

    # Webhooks: which receivers a URL may name (shared/host_policy.py: loopback, link-local and metadata
    # addresses only when named, the platform's own endpoints never), the timeout of one POST, the waits
    # before each retry (seconds, jittered by +-10 %), how long a webhook may fail before it is disabled,
    # how often beat sends what is due, how long an attempt holds its delivery.
    webhook_allowed_hosts: str = "*"
    webhook_timeout_s: float = Field(default=10, gt=0, le=60)
    webhook_retry_schedule_s: str = "5,300,1800,7200,18000,36000,36000"
    webhook_disable_after_s: float = Field(default=5 * 24 * 3600, gt=0)
    webhook_sweep_interval_s: float = Field(default=5, gt=0)
    webhook_lease_s: float = Field(default=30, ge=15)

    # Where /status asks each service's /ready (compose and k8s point these at services).
    web_test_url: str = "http://127.0.0.1:5001"
    perf_test_url: str = "http://127.0.0.1:5002"
    scheduler_url: str = "http://127.0.0.1:5003"

    @field_validator("webhook_retry_schedule_s")
    @classmethod
    def _retry_schedule(cls, value: str) -> str:
        delays = [float(item) for item in value.split(",") if item.strip()]
        if any(delay < 0 for delay in delays):
            raise ValueError("retry delays are seconds >= 0, comma-separated")
        return value

    @property
    def webhook_retry_delays_s(self) -> tuple[float, ...]:
        """The wait before each retry of a failed delivery (WEBHOOK_RETRY_SCHEDULE_S, e.g. 5,300,1800)."""
        return tuple(float(item) for item in self.webhook_retry_schedule_s.split(",") if item.strip())

    @field_validator("cleanup_cron")
    @classmethod
    def _valid_cron(cls, value: str) -> str:
        return validate_cron(value)

    @property
    def beat_tick_limit_s(self) -> float:
        return self.beat_tick_max_age_s or 3 * self.beat_max_loop_interval_s + 10

    @property
    def ready_urls(self) -> dict[str, str]:
        bases = {
            names.WEB_TEST_SERVICE: self.web_test_url,
            names.PERF_TEST_SERVICE: self.perf_test_url,
            names.SCHEDULER_SERVICE: self.scheduler_url,
        }
        return {service: base + paths.ready_path(service) for service, base in bases.items()}

    @property
    def webhook_policy(self) -> HostPolicy:
        """Where a webhook may POST: as a load test's targets, and never to the platform's own endpoints."""
        internal = internal_endpoints(self) + endpoints_of_urls(
            [self.web_test_url, self.perf_test_url, self.scheduler_url]
        )
        return HostPolicy.from_setting(self.webhook_allowed_hosts, "WEBHOOK_ALLOWED_HOSTS", internal)

    @property
    def target_urls(self) -> dict[str, str]:
        """Base URL of each service a schedule may target."""
        return {names.WEB_TEST_SERVICE: self.web_test_url, names.PERF_TEST_SERVICE: self.perf_test_url}


@lru_cache
def get_settings() -> SchedulerSettings:
    """The process's settings, read from the environment once."""
    return SchedulerSettings()
