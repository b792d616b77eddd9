"""Settings of the perf-test service (API and worker)."""

from __future__ import annotations

from functools import cached_property, lru_cache
from typing import Literal

from pydantic import Field

from shared.config import HARD_LIMIT_MARGIN_S, BaseServiceSettings
from shared.host_policy import HostPolicy, internal_endpoints

# A load run's task may take this long beyond its run_time: Locust's start-up, the stop and the report.
RUN_OVERHEAD_S = 120


class PerfTestSettings(BaseServiceSettings):
    service_name = "perf-test"

    # PERF_MAX_RUN_TIME caps a run's run_time; Celery's limits derive from it.
    max_run_seconds: int = Field(default=3600, gt=0, validation_alias="PERF_MAX_RUN_TIME")
    perf_max_users: int = Field(default=1000, gt=0)
    # Local Locust worker processes a run may ask for (one saturates a core).
    perf_max_workers: int = Field(default=8, ge=0)
    # "local": a run's `workers: N` are Locust processes on this machine. "external": the master
    # binds PERF_LOCUST_MASTER_BIND:PERF_LOCUST_MASTER_PORT and waits for N workers started
    # elsewhere (the k8s locust-worker Deployment, compose's locust-worker service).
    perf_locust_workers: Literal["local", "external"] = "local"
    perf_locust_master_bind: str = "127.0.0.1"
    perf_locust_master_port: int = Field(default=5557, gt=0, lt=65536)
    # Comma-separated names, fnmatch patterns, addresses and CIDRs a scenario may target (default: loopback);
    # the rules are in shared/src/shared/host_policy.py.
    perf_allowed_hosts: str = "127.0.0.1,localhost,::1"

    @cached_property
    def host_policy(self) -> HostPolicy:
        """PERF_ALLOWED_HOSTS over the platform's own endpoints, which no load may reach."""
        return HostPolicy.from_setting(self.perf_allowed_hosts, "PERF_ALLOWED_HOSTS", internal_endpoints(self))

    @property
    def longest_task_s(self) -> int:
        """A load run's task may take its run_time plus Locust's start-up, stop and report."""
        return self.max_run_seconds + RUN_OVERHEAD_S + HARD_LIMIT_MARGIN_S


@lru_cache
def get_settings() -> PerfTestSettings:
    """The process's settings, read from the environment once."""
    return PerfTestSettings()
