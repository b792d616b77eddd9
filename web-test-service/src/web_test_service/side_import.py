"""Read a Selenium IDE `.side` project (versions 1.x-3.x) into TestFleet scripts, one per test."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

SUPPORTED_MAJOR_VERSIONS = (1, 2, 3)
DEFAULT_SUITE_TIMEOUT_S = 300
# Command fields the runner understands, copied as they are.
COMMAND_OPTIONAL_FIELDS = ("comment", "skip", "opensWindow", "windowHandleName", "windowTimeout")


class SideProjectError(ValueError):
    """The document is not a .side project this importer can read; the message names the problem."""


@dataclass
class SideProject:
    """A parsed project: scripts in suite order, and the suites that list them."""

    name: str
    base_url: str
    scripts: list[dict] = field(default_factory=list)
    suites: list[dict] = field(default_factory=list)

    def resolver(self) -> Callable[[str], list[dict] | None]:
        """A `run` resolver: test name -> its commands, as runner.run_script(resolve_test=...) expects."""
        return make_test_resolver(self.scripts)


def make_test_resolver(scripts: list[dict]) -> Callable[[str], list[dict] | None]:
    """Look tests up by name (Selenium IDE `run` uses names, first match wins)."""
    by_name: dict[str, list[dict]] = {}
    for script in scripts:
        by_name.setdefault(script["name"], script["commands"])
    return by_name.get


def load_side_project(source: str | bytes | Mapping[str, Any]) -> SideProject:
    """Parse a .side project given as JSON text or an already decoded dict."""
    if isinstance(source, (str, bytes)):
        try:
            source = json.loads(source)
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise SideProjectError(f"Not a .side project: invalid JSON ({error})") from None
    if not isinstance(source, Mapping):
        raise SideProjectError("Not a .side project: the document must be a JSON object")
    check_version(source.get("version"))
    project_name = text_field(source, "name", "project", default="")
    base_url = text_field(source, "url", "project", default="")
    tests = source.get("tests")
    if not isinstance(tests, list) or not tests:
        raise SideProjectError("Invalid .side project: 'tests' must be a non-empty list")

    scripts_by_id: dict[str, dict] = {}
    scripts: list[dict] = []
    for position, test in enumerate(tests):
        script = convert_test(test, position, base_url)
        if script["side_id"] in scripts_by_id:
            raise SideProjectError(f"Invalid .side project: test id {script['side_id']!r} is used twice")
        scripts_by_id[script["side_id"]] = script
        scripts.append(script)

    suites = convert_suites(source.get("suites") or [], scripts_by_id)
    check_run_targets(scripts)
    # Scripts in suite order first (a suite's tests run in their listed order), then tests in no suite.
    ordered: list[dict] = []
    for suite in suites:
        for test_id in suite["test_ids"]:
            script = scripts_by_id[test_id]
            if script not in ordered:
                ordered.append(script)
    ordered += [script for script in scripts if script not in ordered]
    return SideProject(name=project_name, base_url=base_url, scripts=ordered, suites=suites)


def check_version(version: Any) -> None:
    if version is None:
        raise SideProjectError("Invalid .side project: 'version' is missing")
    try:
        major = int(str(version).split(".")[0])
    except ValueError:
        raise SideProjectError(f"Invalid .side project: unreadable version {version!r}") from None
    if major not in SUPPORTED_MAJOR_VERSIONS:
        raise SideProjectError(f"Unsupported .side version {version}: versions 1.x to 3.x are supported")


def text_field(container: Mapping[str, Any], key: str, where: str, *, default: str | None = None) -> str:
    value = container.get(key, default)
    if value is None or not isinstance(value, str):
        raise SideProjectError(f"Invalid .side project: {where} field '{key}' must be a string")
    return value


def convert_test(test: Any, position: int, base_url: str) -> dict:
    """One .side test -> a script dict."""
    if not isinstance(test, Mapping):
        raise SideProjectError(f"Invalid .side project: test {position} is not an object")
    name = text_field(test, "name", f"test {position}")
    if not name.strip():
        raise SideProjectError(f"Invalid .side project: test {position} has an empty name")
    commands = test.get("commands")
    if not isinstance(commands, list):
        raise SideProjectError(f"Invalid .side project: test '{name}' has no 'commands' list")
    return {
        "name": name,
        "base_url": base_url,
        "commands": [convert_command(command, name, index) for index, command in enumerate(commands)],
        "suites": [],
        "side_id": str(test.get("id") or f"test-{position}"),
    }


def convert_command(command: Any, test_name: str, index: int) -> dict:
    """One .side command -> {command, target, value, targets?, skip?, ...}."""
    if not isinstance(command, Mapping):
        raise SideProjectError(f"Invalid .side project: test '{test_name}' command {index} is not an object")
    name = command.get("command")
    if not isinstance(name, str):
        raise SideProjectError(f"Invalid .side project: test '{test_name}' command {index} has no command name")
    converted: dict[str, Any] = {
        "command": name,
        "target": stringify(command.get("target")),
        "value": stringify(command.get("value")),
    }
    targets = command.get("targets") or command.get("fallbackTargets") or []
    fallbacks = [
        [str(item[0]), str(item[1]) if len(item) > 1 else ""]
        for item in targets
        if isinstance(item, (list, tuple)) and item and item[0]
    ]
    if fallbacks:
        converted["targets"] = fallbacks
    for key in COMMAND_OPTIONAL_FIELDS:
        if command.get(key) not in (None, "", False):
            converted[key] = command[key]
    return converted


def stringify(value: Any) -> str:
    return "" if value is None else str(value)


def convert_suites(suites: Any, scripts_by_id: dict[str, dict]) -> list[dict]:
    """Suites as {name, test_ids, tests (names, in order), persist_session, parallel, timeout_ms}."""
    if not isinstance(suites, list):
        raise SideProjectError("Invalid .side project: 'suites' must be a list")
    converted = []
    for position, suite in enumerate(suites):
        if not isinstance(suite, Mapping):
            raise SideProjectError(f"Invalid .side project: suite {position} is not an object")
        name = text_field(suite, "name", f"suite {position}")
        test_ids = suite.get("tests") or []
        if not isinstance(test_ids, list):
            raise SideProjectError(f"Invalid .side project: suite '{name}' field 'tests' must be a list")
        for test_id in test_ids:
            if test_id not in scripts_by_id:
                raise SideProjectError(f"Invalid .side project: suite '{name}' lists unknown test id {test_id!r}")
        try:
            timeout_s = float(suite.get("timeout") or DEFAULT_SUITE_TIMEOUT_S)
        except (TypeError, ValueError):
            raise SideProjectError(f"Invalid .side project: suite '{name}' has a non-numeric timeout") from None
        timeout_ms = round(timeout_s * 1000)
        for order, test_id in enumerate(test_ids):
            script = scripts_by_id[test_id]
            script["suites"].append({"name": name, "position": order})
            # A test in several suites keeps the first suite's timeout.
            script.setdefault("timeout_ms", timeout_ms)
        converted.append(
            {
                "name": name,
                "test_ids": list(test_ids),
                "tests": [scripts_by_id[test_id]["name"] for test_id in test_ids],
                "persist_session": bool(suite.get("persistSession", False)),
                "parallel": bool(suite.get("parallel", False)),
                "timeout_ms": timeout_ms,
            }
        )
    return converted


def check_run_targets(scripts: list[dict]) -> None:
    """Every `run` command must name a test of the project (unless the name comes from a variable)."""
    names = {script["name"] for script in scripts}
    for script in scripts:
        for index, command in enumerate(script["commands"]):
            target = command["target"]
            if command["command"] == "run" and "${" not in target and target not in names:
                raise SideProjectError(
                    f"Invalid .side project: test '{script['name']}' command {index} runs unknown test {target!r}"
                )
