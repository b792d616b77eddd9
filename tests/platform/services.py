"""The three services as the platform tests see them: package, settings, queue, worker module."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module

from shared import names


@dataclass(frozen=True)
class ServiceUnderTest:
    name: str
    package: str
    settings_class: str
    queue: str
    has_beat: bool = False
    api_name: str | None = None  # the /api/v1/<name> segment, when it is not the service's name

    @property
    def worker_module(self) -> str:
        return f"{self.package}.worker"

    @property
    def wsgi(self) -> str:
        return f"{self.package}.wsgi:app"

    @property
    def prefix(self) -> str:
        return f"/api/v1/{self.api_name or self.name}"

    def settings_cls(self):
        return getattr(import_module(f"{self.package}.config"), self.settings_class)

    def create_app(self, settings):
        return import_module(self.package).create_app(settings)


# The console has no queue: it is kept out of SERVICES (whose contract includes a worker) and checked by
# console-service/tests/test_contract.py; docs/api.md documents its API as it does the others'.
CONSOLE = ServiceUnderTest(names.CONSOLE_SERVICE, "console_service", "ConsoleSettings", queue="", api_name="auth")

SERVICES = [
    ServiceUnderTest(names.WEB_TEST_SERVICE, "web_test_service", "WebTestSettings", names.WEB_QUEUE),
    ServiceUnderTest(names.PERF_TEST_SERVICE, "perf_test_service", "PerfTestSettings", names.PERF_QUEUE),
    ServiceUnderTest(
        names.SCHEDULER_SERVICE, "scheduler_service", "SchedulerSettings", names.MAINTENANCE_QUEUE, has_beat=True
    ),
]
