"""Request and response shapes of the web-test API; command checks happen at save time."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shared.errors import Unprocessable
from shared.run_schemas import RunFields
from web_test_service.runner.validation import validate_commands

MAX_COMMANDS = 5000
MAX_TEXT = 100_000
VariableValue = str | int | float | bool | None


class CommandIn(BaseModel):
    """One Selenium IDE command as recorded: {command, target, value} plus optional IDE fields."""

    model_config = ConfigDict(extra="ignore")

    command: str = Field(min_length=1, max_length=100)
    target: str = Field(default="", max_length=MAX_TEXT)
    value: str = Field(default="", max_length=MAX_TEXT)
    targets: list[list[str]] | None = Field(default=None, max_length=50)
    comment: str | None = Field(default=None, max_length=10_000)
    skip: bool | None = None
    opensWindow: bool | None = None  # Selenium IDE field names
    windowHandleName: str | None = Field(default=None, max_length=300)
    windowTimeout: int | None = Field(default=None, ge=0, le=600_000)


def check_base_url(value: str) -> str:
    if value:
        parsed = urlparse(value)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError("must be an absolute http(s) URL")
    return value


class ScriptCreate(BaseModel):
    """A script: one Selenium IDE test."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=300)
    base_url: str = Field(default="", max_length=2000)
    commands: list[CommandIn] = Field(min_length=1, max_length=MAX_COMMANDS)
    timeout_ms: int = Field(default=300_000, ge=1000)

    @field_validator("base_url")
    @classmethod
    def _absolute_base_url(cls, value: str) -> str:
        return check_base_url(value)

    def command_dicts(self) -> list[dict[str, Any]]:
        return [c.model_dump(exclude_none=True) for c in self.commands]


def check_commands_or_422(commands: list[dict[str, Any]], timeout_ms: int, max_timeout_ms: int) -> None:
    """Run the runner's save-time checks; 422 naming the command's index and field."""
    if timeout_ms > max_timeout_ms:
        raise Unprocessable(
            f"timeout_ms: must be at most {max_timeout_ms}",
            details=[{"field": "timeout_ms", "message": f"at most {max_timeout_ms}"}],
        )
    problems = validate_commands(commands)
    if problems:
        first = problems[0]
        details = [
            {"field": f"commands.{p['index']}.{p['field']}", "index": p["index"], "message": p["message"]}
            for p in problems
        ]
        raise Unprocessable(f"commands.{first['index']}.{first['field']}: {first['message']}", details=details)


class RunRequest(BaseModel):
    """Optional overrides for one run."""

    model_config = ConfigDict(extra="forbid")

    priority: int = Field(default=5, ge=0, le=9, description="9 is the most urgent")
    base_url: str | None = Field(default=None, max_length=2000)
    variables: dict[str, VariableValue] = Field(default_factory=dict, max_length=200)

    @model_validator(mode="after")
    def _check(self) -> RunRequest:
        if self.base_url:
            check_base_url(self.base_url)
        for key in self.variables:
            if not key or len(key) > 200:
                raise ValueError("variables: names must be 1-200 characters")
        return self


class StepRead(BaseModel):
    index: int
    command: str
    target: str
    value: str
    state: str
    duration_ms: int
    error: str | None
    screenshot_url: str | None


class ScriptRead(BaseModel):
    id: str
    owner: str
    name: str
    base_url: str
    commands: list[dict[str, Any]]
    timeout_ms: int
    project_id: str | None
    project_name: str | None
    suites: list[str]
    created_at: str
    updated_at: str


class ScriptList(BaseModel):
    items: list[ScriptRead]
    total: int


class RunRead(RunFields):
    script_id: str | None
    progress: dict[str, int]
    steps: list[StepRead]


class NoRunYet(BaseModel):
    """/status of a script that has never run."""

    script_id: str
    state: None
    run_id: None
    progress: None
    steps: list[StepRead]


class RunList(BaseModel):
    items: list[RunRead]
    total: int
