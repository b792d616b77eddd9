"""Read a Selenium IDE `.side` project (versions 1.x-3.x) into TestFleet scripts, one per test.

The document is type-checked first, field by field (SideDocument below), so a wrong type, a negative number
or a nested list where a test id belongs is an error naming its place in the document, such as
`tests.0.commands.2.targets` or `suites.0.timeout`, never a crash further on. What Selenium IDE writes and
the platform cannot keep as it is, a suite timeout above the run limit, is adjusted with a warning.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from shared.errors import validation_details
from shared.json_input import first_unstorable, loads
from web_test_service.schemas import (
    MAX_COMMANDS,
    MAX_FALLBACKS,
    MAX_SIDE_ID,
    MAX_TEXT,
    MIN_TIMEOUT_MS,
    CommandIn,
    Locator,
    check_base_url,
)

SUPPORTED_MAJOR_VERSIONS = (1, 2, 3)
# Selenium IDE's timeout for a suite without one (or with 0), and TestFleet's for a test in no suite.
DEFAULT_SUITE_TIMEOUT_S = 300
# Command fields the runner understands, copied as they are.
COMMAND_OPTIONAL_FIELDS = ("comment", "skip", "opensWindow", "windowHandleName", "windowTimeout")


class SideProjectError(ValueError):
    """The document is not a .side project this importer can read; `details` name the fields ([{field, message}])."""

    def __init__(self, message: str, *, field: str = "project", details: list[dict[str, Any]] | None = None):
        super().__init__(problem_message({"field": field, "message": message}))
        self.details = details or [{"field": field, "message": message}]


def problem_message(detail: Mapping[str, Any]) -> str:
    """The error message for one problem of the document ({field, message})."""
    if detail["field"] == "project":
        return detail["message"]
    return f"Invalid .side project: {detail['field']}: {detail['message']}"


# --- the document, as Selenium IDE writes it --------------------------------------------------


class _SideModel(BaseModel):
    # Selenium IDE adds fields over the versions (plugins, urls, ids): unknown ones are ignored. The known ones
    # have the types Selenium IDE writes ("no" is not false, "60" not a number), as a script's commands do.
    model_config = ConfigDict(extra="ignore", strict=True, allow_inf_nan=False)


class SideCommand(CommandIn):
    """A recorded command: as a script's command, but target and value may be null and fallbacks have two names."""

    target: str | None = Field(default=None, max_length=MAX_TEXT)
    value: str | None = Field(default=None, max_length=MAX_TEXT)
    fallbackTargets: list[Locator] | None = Field(default=None, max_length=MAX_FALLBACKS)  # an older name of targets


class SideTest(_SideModel):
    id: str | None = Field(default=None, max_length=MAX_SIDE_ID)
    name: Annotated[str, Field(min_length=1, max_length=300)]
    commands: list[SideCommand] = Field(max_length=MAX_COMMANDS)

    @field_validator("name")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value


class SideSuite(_SideModel):
    name: str = Field(max_length=300)
    tests: list[Annotated[str, Field(max_length=MAX_SIDE_ID)]] | None = None  # test ids, in run order
    # Any finite number of seconds imports: one above the platform's limit is clamped to it (suite_timeout_ms).
    timeout: float | None = Field(default=None, ge=0, description="seconds; 0: the default")
    persistSession: bool | None = None
    parallel: bool | None = None


class SideDocument(_SideModel):
    id: str | None = Field(default=None, max_length=MAX_SIDE_ID)
    version: str  # "2.0"; Selenium IDE 1.x wrote a number
    name: str = Field(default="", max_length=300)
    url: str = Field(default="", max_length=2000)
    tests: list[SideTest] = Field(min_length=1)
    suites: list[SideSuite] | None = None

    @field_validator("version", mode="before")
    @classmethod
    def _version_text(cls, value: Any) -> Any:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        if isinstance(value, str) and len(value) > 20:
            raise ValueError("is not a version")
        return value

    @field_validator("url")
    @classmethod
    def _absolute_url(cls, value: str) -> str:
        return check_base_url(value)


# --- the project TestFleet keeps ------------------------------------------------------------


@dataclass
class SideProject:
    """A parsed project: scripts in suite order, the suites that list them, and what reading it found.

    `warnings` ({field, message}) say what was adjusted; `problems` (the same shape) are references that do
    not hold (a test id used twice, a suite or a `run` naming no test) and make the project unimportable.
    """

    name: str
    base_url: str
    side_id: str | None = None  # the IDE's project id
    version: str = ""
    scripts: list[dict] = field(default_factory=list)
    suites: list[dict] = field(default_factory=list)
    warnings: list[dict] = field(default_factory=list)
    problems: list[dict] = field(default_factory=list)

    def resolver(self) -> Callable[[str], list[dict] | None]:
        """A `run` resolver: test name -> its commands, as runner.run_script(resolve_test=...) expects."""
        return make_test_resolver(self.scripts)


def make_test_resolver(scripts: list[dict]) -> Callable[[str], list[dict] | None]:
    """Look tests up by name (Selenium IDE `run` uses names, first match wins)."""
    by_name: dict[str, list[dict]] = {}
    for script in scripts:
        by_name.setdefault(script["name"], script["commands"])
    return by_name.get


def read_side_project(source: str | bytes | Mapping[str, Any], *, max_timeout_ms: int) -> SideProject:
    """Parse a .side project (JSON text or a decoded dict); SideProjectError names what makes it unreadable.

    Broken references are listed in `problems` instead, so the importer can report them with the tests' own.

    Timeouts are clamped to max_timeout_ms (WEB_MAX_RUN_SECONDS), each with a warning.
    """
    document = parse_document(source)
    check_version(document.version)
    problems: list[dict] = []
    scripts_by_id: dict[str, dict] = {}
    scripts: list[dict] = []
    for position, test in enumerate(document.tests):
        script = convert_test(test, position, document.url)
        if script["side_id"] in scripts_by_id:
            message = f"test id {script['side_id']!r} is used twice"
            problems.append({"field": f"tests.{position}.id", "message": message})
        else:
            scripts_by_id[script["side_id"]] = script
        scripts.append(script)

    problems += run_target_problems(scripts)
    suites, warnings, suite_problems = convert_suites(document.suites or [], scripts_by_id, max_timeout_ms)
    problems = sorted(problems + suite_problems, key=document_order)
    default_ms = min(DEFAULT_SUITE_TIMEOUT_S * 1000, max_timeout_ms)
    for script in scripts:
        script.setdefault("timeout_ms", default_ms)
    # Scripts in suite order first (a suite's tests run in their listed order), then tests in no suite.
    ordered: list[dict] = []
    for suite in suites:
        for test_id in suite["test_ids"]:
            script = scripts_by_id[test_id]
            if script not in ordered:
                ordered.append(script)
    ordered += [script for script in scripts if script not in ordered]
    project = SideProject(
        name=document.name,
        base_url=document.url,
        side_id=document.id,
        version=document.version,
        scripts=ordered,
        suites=suites,
    )
    project.warnings, project.problems = warnings, problems
    return project


def parse_document(source: str | bytes | Mapping[str, Any]) -> SideDocument:
    """Decode (NaN and Infinity are not JSON) and type-check the document."""
    if isinstance(source, (str, bytes)):
        try:
            source = loads(source)
        except ValueError as error:  # a JSONDecodeError, a UnicodeDecodeError, NaN or Infinity
            raise SideProjectError(f"Not a .side project: invalid JSON ({error})") from None
    if not isinstance(source, Mapping):
        raise SideProjectError("Not a .side project: the document must be a JSON object")
    problem = first_unstorable(source)  # a JSON body was checked already (shared.body); an uploaded file was not
    if problem:
        raise SideProjectError(problem[1], field=problem[0])
    try:
        return SideDocument.model_validate(source)
    except ValidationError as exc:
        details = validation_details(exc)
        raise SideProjectError(details[0]["message"], field=details[0]["field"], details=details) from None


def check_version(version: str) -> None:
    try:
        major = int(version.split(".")[0])
    except ValueError:
        raise SideProjectError(f"unreadable version {version!r}", field="version") from None
    if major not in SUPPORTED_MAJOR_VERSIONS:
        raise SideProjectError(f"Unsupported .side version {version}: versions 1.x to 3.x are supported")


def convert_test(test: SideTest, position: int, base_url: str) -> dict:
    """One .side test -> a script dict."""
    return {
        "name": test.name,
        "base_url": base_url,
        "commands": [convert_command(command) for command in test.commands],
        "suites": [],
        "side_id": test.id or f"test-{position}",
        "side_position": position,  # where the test is in the document, for error paths
    }


def convert_command(command: SideCommand) -> dict:
    """One .side command -> {command, target, value, targets?, skip?, ...}."""
    converted: dict[str, Any] = {"command": command.command, "target": command.target or ""}
    converted["value"] = command.value or ""
    # Selenium IDE records empty pairs and pairs without a strategy: keep [locator, strategy] pairs only.
    fallbacks = []
    for pair in command.targets or command.fallbackTargets or []:
        if pair and pair[0]:
            fallbacks.append([pair[0], pair[1] if len(pair) > 1 else ""])
    if fallbacks:
        converted["targets"] = fallbacks
    for key in COMMAND_OPTIONAL_FIELDS:
        value = getattr(command, key)
        if value not in (None, "", False):
            converted[key] = value
    return converted


def convert_suites(
    suites: list[SideSuite], scripts_by_id: dict[str, dict], max_timeout_ms: int
) -> tuple[list[dict], list[dict], list[dict]]:
    """Suites as {name, test_ids, tests (names, in order), persist_session, parallel, timeout_ms}, warnings, problems.

    Each listed test gets the suite's name and its place in it; a test in several suites keeps the first
    suite's timeout.
    """
    converted, warnings, problems = [], [], []
    for position, suite in enumerate(suites):
        test_ids = []
        for index, test_id in enumerate(suite.tests or []):
            if test_id in scripts_by_id:
                test_ids.append(test_id)
            else:
                where = f"suites.{position}.tests.{index}"
                problems.append({"field": where, "message": f"unknown test id {test_id!r}"})
        timeout_ms, warning = suite_timeout_ms(suite.timeout, max_timeout_ms)
        if warning:
            warnings.append({"field": f"suites.{position}.timeout", "message": warning})
        for order, test_id in enumerate(test_ids):
            script = scripts_by_id[test_id]
            script["suites"].append({"name": suite.name, "position": order})
            script.setdefault("timeout_ms", timeout_ms)
        converted.append(
            {
                "name": suite.name,
                "test_ids": test_ids,
                "tests": [scripts_by_id[test_id]["name"] for test_id in test_ids],
                "persist_session": bool(suite.persistSession),
                "parallel": bool(suite.parallel),
                "timeout_ms": timeout_ms,
            }
        )
    return converted, warnings, problems


def suite_timeout_ms(seconds: float | None, max_timeout_ms: int) -> tuple[int, str | None]:
    """A suite's timeout in ms (0 or none: the IDE's default) kept within the run limits, and why it changed."""
    seconds = seconds or DEFAULT_SUITE_TIMEOUT_S
    if seconds * 1000 > max_timeout_ms:
        limit = f"{max_timeout_ms / 1000:g} s (WEB_MAX_RUN_SECONDS)"
        return max_timeout_ms, f"{seconds:g} s is above the platform's limit: clamped to {limit}"
    if seconds * 1000 < MIN_TIMEOUT_MS:
        return MIN_TIMEOUT_MS, f"{seconds:g} s is below the shortest run: raised to {MIN_TIMEOUT_MS / 1000:g} s"
    return round(seconds * 1000), None


def run_target_problems(scripts: list[dict]) -> list[dict]:
    """Every `run` command must name a test of the project (unless the name comes from a variable)."""
    names = {script["name"] for script in scripts}
    problems = []
    for script in scripts:
        for index, command in enumerate(script["commands"]):
            target = command["target"]
            if command["command"] == "run" and "${" not in target and target not in names:
                problems.append(
                    {
                        "field": f"tests.{script['side_position']}.commands.{index}.target",
                        "message": f"test '{script['name']}' command {index} runs unknown test {target!r}",
                    }
                )
    return problems


def document_order(detail: Mapping[str, Any]) -> tuple[int, int]:
    """A sort key for problems ({field, ...}): a test's in the test's place in the document, then the others."""
    parts = str(detail["field"]).split(".")
    if parts[0] == "tests" and len(parts) > 1 and parts[1].isdecimal():
        return 0, int(parts[1])
    return 1, 0
