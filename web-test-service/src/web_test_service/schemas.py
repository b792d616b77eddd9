"""Request and response shapes of the web-test API; command checks happen at save time."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlparse

from pydantic import BaseModel, ConfigDict, Field, computed_field, field_validator

from shared import paths
from shared.pagination import Page
from shared.runs.schemas import RunFields

MAX_COMMANDS = 5000
MAX_TEXT = 100_000
MAX_FALLBACKS = 50
MIN_TIMEOUT_MS = 1000  # a script's shortest timeout
MAX_SIDE_ID = 200  # the Selenium IDE's ids (a project's, a test's) as an import keeps them (side_id)
# A fallback locator as Selenium IDE records it: [locator, strategy], e.g. ["css=#user", "css:finder"].
Locator = Annotated[list[Annotated[str, Field(max_length=MAX_TEXT)]], Field(max_length=2)]
VariableValue = str | int | float | bool | None


class CommandIn(BaseModel):
    """One Selenium IDE command as recorded: {command, target, value} plus optional IDE fields."""

    # Request bodies (here and below) take JSON's types as they are: "5" is not a number, 1 is not true.
    model_config = ConfigDict(extra="ignore", strict=True, allow_inf_nan=False)

    command: str = Field(min_length=1, max_length=100)
    target: str = Field(default="", max_length=MAX_TEXT)
    value: str = Field(default="", max_length=MAX_TEXT)
    targets: list[Locator] | None = Field(default=None, max_length=MAX_FALLBACKS)
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

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)

    name: str = Field(min_length=1, max_length=300)
    base_url: str = Field(default="", max_length=2000)
    commands: list[CommandIn] = Field(min_length=1, max_length=MAX_COMMANDS)
    timeout_ms: int = Field(default=300_000, ge=MIN_TIMEOUT_MS)

    @field_validator("base_url")
    @classmethod
    def _absolute_base_url(cls, value: str) -> str:
        return check_base_url(value)

    def command_dicts(self) -> list[dict[str, Any]]:
        return [c.model_dump(exclude_none=True) for c in self.commands]


class RunRequest(BaseModel):
    """Optional overrides for one run."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)

    priority: int = Field(default=5, ge=0, le=9, description="9 is the most urgent")
    base_url: str | None = Field(default=None, max_length=2000)
    variables: dict[str, VariableValue] = Field(default_factory=dict, max_length=200)

    @field_validator("base_url")
    @classmethod
    def _absolute_base_url(cls, value: str | None) -> str | None:
        return check_base_url(value) if value else value

    @field_validator("variables")
    @classmethod
    def _variable_names(cls, value: dict[str, VariableValue]) -> dict[str, VariableValue]:
        if any(not key or len(key) > 200 for key in value):
            raise ValueError("names must be 1-200 characters")
        return value


class StepRead(BaseModel):
    """One executed command of a run (loops repeat an index)."""

    model_config = ConfigDict(from_attributes=True)

    index: int
    command: str
    target: str
    value: str
    state: str
    duration_ms: int
    error: str | None
    run_id: str = Field(exclude=True)
    seq: int = Field(exclude=True)
    has_screenshot: bool = Field(exclude=True)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def screenshot_url(self) -> str | None:
        return paths.web_screenshot(self.run_id, self.index) if self.has_screenshot else None


class Unrunnable(BaseModel):
    """Why a script cannot run: its first unsupported command (an import keeps what Selenium IDE wrote)."""

    field: str = Field(examples=["commands.3.command"])
    index: int
    command: str = Field(examples=["customClick"])
    message: str = Field(examples=["Unknown command customClick"])


class ScriptRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    owner: str
    name: str
    base_url: str
    commands: list[dict[str, Any]]
    timeout_ms: int
    project_id: str | None
    project_name: str | None
    side_id: str | None = Field(description="the Selenium IDE test id, unique within the project")
    suites: list[str]
    runnable: bool = Field(description="false: a run is a 422 naming `unrunnable`")
    unrunnable: Unrunnable | None
    created_at: datetime
    updated_at: datetime


class ScriptList(Page):
    items: list[ScriptRead]


class ImportWarning(BaseModel):
    """Something the import adjusted, named by its place in the .side document."""

    field: str = Field(examples=["suites.0.timeout"])
    message: str = Field(examples=["30000 s is above the platform's limit: clamped to 1800 s (WEB_MAX_RUN_SECONDS)"])


class ImportedProject(BaseModel):
    """The project an import created: its scripts, the project's name and suites as the .side has them, warnings."""

    items: list[ScriptRead]
    total: int
    project_id: str
    project: dict[str, Any]
    warnings: list[ImportWarning]


class Progress(BaseModel):
    current: int
    total: int


class RunRead(RunFields):
    """A web run as /status, /stop and the history show it."""

    script_id: str | None
    script_name: str
    base_url: str
    project_run_id: str | None = Field(description="the project run this run is a test of, if any")
    attempt: int = Field(description="1, then one more per retry of the test in its project run")
    flaky: bool = Field(description="it passed after a failed attempt of the same test")
    progress_current: int = Field(exclude=True)
    progress_total: int = Field(exclude=True)
    steps: list[StepRead]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def progress(self) -> Progress:
        return Progress(current=self.progress_current, total=self.progress_total)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def junit_url(self) -> str:
        return paths.web_junit(self.run_id)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def artifacts_url(self) -> str:
        return paths.web_artifacts(self.run_id)


class RunDetail(RunRead):
    """A web run with its full result: message, console and echo logs, variables."""

    result: dict[str, Any] | None


class NoRunYet(BaseModel):
    """/status of a script that has never run."""

    script_id: str
    state: None = None
    run_id: None = None
    progress: None = None
    steps: list[StepRead] = []


class RunList(Page):
    items: list[RunRead]


# --- projects -------------------------------------------------------------------------------


class SuiteRead(BaseModel):
    """A suite of a project: its tests as script ids, in run order."""

    name: str
    parallel: bool
    persist_session: bool
    timeout_ms: int
    script_ids: list[str]


class ProjectRead(BaseModel):
    """A Selenium IDE project; `side_id` is the IDE's project id, `base_url` the .side `url`."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    owner: str
    name: str
    base_url: str
    side_id: str | None
    version: str
    created_at: datetime
    updated_at: datetime


class ProjectList(Page):
    items: list[ProjectRead]


class ProjectDetail(BaseModel):
    """A project with its suites and its scripts, in run order."""

    project: ProjectRead
    suites: list[SuiteRead]
    scripts: list[ScriptRead]


class ProjectImport(ProjectDetail):
    """What an import (POST) or a re-import (PUT) left: the project, and what reading the .side adjusted."""

    warnings: list[ImportWarning]


# --- a script's recent verdicts -------------------------------------------------------------------


class Verdict(BaseModel):
    """One finished run of a script, as its recent history lists it."""

    model_config = ConfigDict(from_attributes=True)

    run_id: str
    state: str = Field(examples=["failed"], description="passed, failed, error or stopped: finished runs only")
    finished_at: datetime | None
    duration_ms: int | None


class ScriptDetail(ScriptRead):
    """A script with its last verdicts, so a flapping test shows."""

    recent: list[Verdict] = Field(description="the last 20 finished runs, newest first")


# --- a run's artifacts ----------------------------------------------------------------------------


ArtifactKind = Literal["screenshot", "console_log", "final_screenshot"]


class Artifact(BaseModel):
    """One downloadable piece of evidence of a run."""

    name: str = Field(examples=["step-4.png", "console.json", "final-screenshot.png"])
    kind: ArtifactKind
    content_type: str = Field(examples=["image/png"])
    size: int = Field(description="bytes, as the download serves them")
    step_index: int | None = Field(default=None, description="the failed command's index (a screenshot's); else null")
    url: str


class ArtifactList(BaseModel):
    items: list[Artifact]


class ConsoleEntry(BaseModel):
    """One browser console entry as chromedriver reports it (a run saved before `source` was kept has none)."""

    level: str | None = Field(default=None, examples=["SEVERE"])
    message: str | None = None
    source: str | None = Field(default=None, examples=["console-api", "javascript", "network"])
    timestamp: int | float | None = Field(default=None, description="ms since the epoch")


class ConsoleLog(BaseModel):
    entries: list[ConsoleEntry]


# --- project runs ---------------------------------------------------------------------------------


class ProjectRunRequest(RunRequest):
    """What to run of a project, and how: a run's overrides, plus suite, filter and retries."""

    suite: str | None = Field(default=None, min_length=1, max_length=300, description="one suite, by name")
    filter: str | None = Field(
        default=None, min_length=1, max_length=1000, description="a regex searched in test names (side-runner's)"
    )
    retries: int = Field(default=0, ge=0, le=5, description="re-runs of a failed or errored test, at once")


class AttemptRead(BaseModel):
    """One attempt at a test of a project run: a web run of its own (GET /runs/{run_id})."""

    model_config = ConfigDict(from_attributes=True)

    run_id: str
    attempt: int
    state: str
    flaky: bool
    started_at: datetime | None
    finished_at: datetime | None
    duration_ms: int | None
    error: dict[str, Any] | None


class ProjectTestRead(BaseModel):
    """A test of a project run: its latest attempt decides; `flaky` when it passed after a failed one."""

    script_id: str
    name: str
    latest: AttemptRead | None = Field(exclude=True)
    attempts: list[AttemptRead]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def run_id(self) -> str | None:
        return self.latest.run_id if self.latest else None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def state(self) -> str | None:
        return self.latest.state if self.latest else None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def flaky(self) -> bool:
        return bool(self.latest and self.latest.flaky)


class ProjectSuiteRun(BaseModel):
    name: str
    parallel: bool
    persist_session: bool
    timeout_ms: int
    state: str
    tests: list[ProjectTestRead]


class ProjectRunSummary(BaseModel):
    """A project run as its project's history lists it."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    owner: str
    project_id: str | None
    project_name: str
    state: str = Field(examples=["failed"], description="queued, running, passed, failed, error or stopped")
    params: dict[str, Any]
    created_at: datetime
    finished_at: datetime | None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def project_run_id(self) -> str:
        return self.id

    @computed_field  # type: ignore[prop-decorator]
    @property
    def junit_url(self) -> str:
        return paths.project_run_junit(self.id)


class ProjectRunList(Page):
    items: list[ProjectRunSummary]


class ProjectRunRead(ProjectRunSummary):
    """A project run, live: its state (the worst test decides), counts per state, each suite with its tests."""

    counts: dict[str, int] = Field(description="tests per latest state, and how many of them are flaky")
    total: int
    started_at: datetime | None
    suites: list[ProjectSuiteRun]
