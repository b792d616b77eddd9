"""Request and response shapes of the perf-test API (the scenario model is in scenario.py)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from perf_test_service.scenario import Thresholds
from shared.run_schemas import RunFields


class LocustfileScenario(BaseModel):
    """An admin's scenario given as Locust source: host and thresholds still apply."""

    model_config = ConfigDict(extra="forbid")

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

    model_config = ConfigDict(extra="allow")

    priority: int = Field(default=5, ge=0, le=9, description="9 is the most urgent")


class ScenarioRead(BaseModel):
    id: str
    owner: str
    name: str
    host: str
    requests: list[dict[str, Any]] | None = None
    wait_time_ms: dict[str, Any] | None = None
    thresholds: dict[str, Any] | None = None
    locustfile: str | None = None
    created_at: str
    updated_at: str


class ScenarioList(BaseModel):
    items: list[ScenarioRead]
    total: int


class PerfRunRead(RunFields):
    scenario_id: str | None
    params: dict[str, Any]
    elapsed_ms: int
    users: int
    stats: dict[str, Any] | None
    history: list[dict[str, Any]] | None
    thresholds: list[dict[str, Any]] | None


class NoPerfRunYet(BaseModel):
    """/status of a scenario that has never run."""

    scenario_id: str
    state: None
    run_id: None
    stats: None


class PerfRunList(BaseModel):
    items: list[PerfRunRead]
    total: int
