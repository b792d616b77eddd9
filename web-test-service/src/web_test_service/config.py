"""Settings of the web-test service (API and worker)."""

from __future__ import annotations

from functools import cached_property, lru_cache

from pydantic import Field

from shared.config import HARD_LIMIT_MARGIN_S, VISIBILITY_MARGIN_S, BaseServiceSettings
from shared.host_policy import HostPolicy, internal_endpoints


class WebTestSettings(BaseServiceSettings):
    service_name = "web-test"

    # A script's timeout_ms may not exceed this; Celery's limits derive from it.
    max_run_seconds: int = Field(default=1800, gt=0, validation_alias="WEB_MAX_RUN_SECONDS")
    selenium_remote_url: str | None = None
    # With SELENIUM_REMOTE_URL: the address the run's proxy listens on and the Grid's browsers are sent to
    # (WEB_PROXY_HOST). The default suits a Grid on this host; in compose or k8s, the worker's own address.
    web_proxy_host: str = "127.0.0.1"
    chromedriver_path: str = "/usr/bin/chromedriver"
    # A browser that cannot start is retried this often, waiting backoff * 2**attempt seconds.
    browser_start_retries: int = Field(default=3, ge=0, le=10)
    browser_start_backoff_s: float = Field(default=2.0, ge=0)
    # Comma-separated names, fnmatch patterns, addresses and CIDRs a run's browser may reach. "*": any host but
    # loopback, link-local and metadata addresses, which must be named; the platform's own endpoints never
    # (shared/src/shared/host_policy.py). Enforced by a proxy in front of every browser (runner/proxy.py).
    web_allowed_hosts: str = "*"

    @property
    def lane_budget_s(self) -> int:
        """How long one lane task of a project run may go on before it hands its remaining tests to a new task:
        a task must end (hard limit included) before the broker's visibility timeout would deliver it twice."""
        return self.broker_visibility_timeout_s - VISIBILITY_MARGIN_S - HARD_LIMIT_MARGIN_S

    @cached_property
    def host_policy(self) -> HostPolicy:
        """WEB_ALLOWED_HOSTS over the platform's own endpoints, which no browser may reach."""
        return HostPolicy.from_setting(self.web_allowed_hosts, "WEB_ALLOWED_HOSTS", internal_endpoints(self))


@lru_cache
def get_settings() -> WebTestSettings:
    """The process's settings, read from the environment once."""
    return WebTestSettings()
