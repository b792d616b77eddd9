"""Request and response bodies of the scheduler API (pydantic)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from scheduler_service.cron import validate_cron, validate_timezone
from shared import names
from shared.pagination import Page

TargetKind = Literal["web-test", "perf-test"]
OutcomeStatus = Literal["started", "target_not_found", "run_active", "rejected", "error", "skipped"]


class Target(BaseModel):
    """What a firing starts: a web script or a perf scenario, with the run's parameters."""

    # Numeric ids are accepted and kept as strings, as the services' ids are.
    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)

    kind: TargetKind
    # Only URL-safe characters: the id becomes a path segment of the target's run URL.
    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    # The run's body, checked by the target service when the schedule fires (the scheduler imports no service).
    params: dict[str, Any] = Field(default_factory=dict, max_length=50)


class ScheduleCreate(BaseModel):
    """A cron schedule: POST body and PUT (full replace) body."""

    # Unknown fields (e.g. a GET body sent back with id and next_fire_times) are ignored. Strict: JSON's types as
    # they are ("yes" is not true).
    model_config = ConfigDict(extra="ignore", strict=True)

    name: str = Field(min_length=1, max_length=300)
    cron: str = Field(max_length=200, description="five fields (minute hour day month weekday) or @daily etc.")
    timezone: str = Field(default="UTC", max_length=64, description="IANA name the cron is read in")
    target: Target
    enabled: bool = True

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        return validate_cron(value)

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        return validate_timezone(value)


class SchedulePatch(BaseModel):
    """PATCH body: only the fields given change (e.g. {"enabled": false})."""

    model_config = ConfigDict(extra="forbid", strict=True)

    name: str | None = Field(default=None, min_length=1, max_length=300)
    cron: str | None = Field(default=None, max_length=200)
    timezone: str | None = Field(default=None, max_length=64)
    target: Target | None = None
    enabled: bool | None = None

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        return None if value is None else validate_cron(value)

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str | None) -> str | None:
        return None if value is None else validate_timezone(value)


class Outcome(BaseModel):
    """What the last firing did (also the body of a trigger's 202)."""

    status: OutcomeStatus
    trigger: Literal["cron", "manual"]
    fired_at: datetime
    slot: datetime | None = None
    http_status: int | None = None
    run_id: str | None = None
    task_id: str | None = None
    error: str | None = None


class ScheduleRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    owner: str
    owner_role: str
    name: str
    cron: str
    timezone: str
    target: Target
    enabled: bool
    next_fire_times: list[datetime] = Field(description="the next 5 fire times, UTC")
    last_fired_at: datetime | None
    last_outcome: Outcome | None
    created_at: datetime
    updated_at: datetime


class ScheduleList(Page):
    items: list[ScheduleRead]


class TriggerRead(Outcome):
    schedule_id: str


class JobReport(BaseModel):
    """kwargs of maintenance.record_job, as a service sends them when a system job ends."""

    job: Literal[names.JOB_CLEANUP_OLD_RESULTS, names.JOB_REAP_STUCK_RUNS]
    service: Literal[names.WEB_TEST_SERVICE, names.PERF_TEST_SERVICE]
    outcome: dict[str, Any] = Field(default_factory=dict)


class JobRunRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    job: str
    service: str
    created_at: datetime
    outcome: dict[str, Any]


class JobRunList(Page):
    items: list[JobRunRead]
