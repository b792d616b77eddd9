"""Request and response shapes of the perf-test API (the scenario model is in scenario.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, computed_field, field_validator

from perf_test_service.scenario import Thresholds
from shared import paths
from shared.pagination import Page
from shared.runs.schemas import RunFields


class LocustfileScenario(BaseModel):
    """An admin's scenario given as Locust source: host and thresholds still apply."""

    # As scenario.STRICT, but the source is kept exactly as written (no whitespace stripped).
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)

    name: str = Field(min_length=1, max_length=300)
    host: str = Field(min_length=1, max_length=2000)
    locustfile: str = Field(min_length=1, max_length=500_000)
    thresholds: Thresholds = Field(default_factory=Thresholds)

    @field_validator("host")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        return value.rstrip("/")


class RunBody(BaseModel):
    """The run request as sent; limits are checked by scenario.parse_run_params."""

    model_config = ConfigDict(extra="allow", strict=True)  # the other fields are RunParams

    priority: int = Field(default=5, ge=0, le=9, description="9 is the most urgent")


# Lists a run fills as it goes: empty, never null, before the first snapshot.
FilledList = Annotated[list[dict[str, Any]], BeforeValidator(lambda value: value or [])]


class ScenarioRead(BaseModel):
    """A scenario as saved: declarative (requests, wait time) or an admin's locustfile; thresholds either way."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    owner: str
    name: str
    host: str
    locustfile: str | None
    definition: dict[str, Any] = Field(exclude=True)
    created_at: datetime
    updated_at: datetime

    @computed_field  # type: ignore[prop-decorator]
    @property
    def requests(self) -> list[dict[str, Any]] | None:
        return None if self.locustfile is not None else self.definition.get("requests")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def wait_time_ms(self) -> dict[str, Any] | None:
        return None if self.locustfile is not None else self.definition.get("wait_time_ms")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def thresholds(self) -> dict[str, Any] | None:
        return self.definition.get("thresholds")


class ScenarioList(Page):
    items: list[ScenarioRead]


class PerfRunRead(RunFields):
    """A load run: live while running (about once a second), final once settled."""

    scenario_id: str | None
    scenario_name: str
    params: dict[str, Any]
    elapsed_ms: int
    users: int
    worker_count: int
    stats: dict[str, Any] | None
    history: FilledList
    thresholds: FilledList
    # Whether report and CSV exist, never their content (perf models.py defers it).
    has_report: bool = Field(default=False, exclude=True)
    has_stats_csv: bool = Field(default=False, exclude=True)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def report_url(self) -> str | None:
        return paths.perf_report(self.run_id) if self.has_report else None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def stats_csv_url(self) -> str | None:
        return paths.perf_stats_csv(self.run_id) if self.has_stats_csv else None


class NoPerfRunYet(BaseModel):
    """/status of a scenario that has never run."""

    scenario_id: str
    state: None = None
    run_id: None = None
    stats: None = None


class PerfRunList(Page):
    items: list[PerfRunRead]
