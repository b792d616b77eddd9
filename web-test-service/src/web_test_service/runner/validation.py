"""Save-time checks of a command list: unknown commands, bad locators, missing arguments, blocks, refused targets."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from typing import Any

from shared.host_policy import HostPolicy
from web_test_service.runner.commands import COMMANDS, REQUIRED_ARGS, SUPPORTED_COMMANDS, Arg
from web_test_service.runner.control_flow import ControlFlowError, build_blocks, command_name, is_skipped
from web_test_service.runner.locators import (
    ELEMENT_STRATEGIES,
    LocatorError,
    parse_attribute_locator,
    parse_coordinates,
    parse_locator,
    parse_option_locator,
    parse_window_locator,
    parse_window_size,
)
from web_test_service.runner.policy import literal_target_problem

__all__ = ["SUPPORTED_COMMANDS", "is_unsupported", "validate_commands"]

FRAME_KEYWORDS = ("relative=top", "relative=parent")


def check_frame_locator(text: str) -> None:
    """Accept relative=top/parent, index=N[\\N...] or an element locator."""
    if text in FRAME_KEYWORDS:
        return
    if text.startswith("index="):
        parts = text[len("index=") :].split("\\")
        if all(part == ".." or part.strip().isdecimal() for part in parts):
            return
        raise LocatorError(f"Invalid frame index in {text!r}")
    parse_locator(text)


def check_number(text: str) -> None:
    try:
        number = float(text)
    except ValueError:
        number = math.nan
    if not math.isfinite(number):
        raise LocatorError(f"Expected a number, got {text!r}")


def check_json(text: str) -> None:
    try:
        json.loads(text)
    except json.JSONDecodeError as error:
        raise LocatorError(f"Invalid JSON: {error}") from None


# Format checks per argument kind; they raise LocatorError with the reason.
FORMAT_CHECKS: dict[Arg, Callable[[str], Any]] = {
    Arg.LOCATOR: parse_locator,
    Arg.OPTION: parse_option_locator,
    Arg.ATTRIBUTE_LOCATOR: lambda text: parse_locator(parse_attribute_locator(text)[0]),
    Arg.FRAME: check_frame_locator,
    Arg.WINDOW: parse_window_locator,
    Arg.COORDINATES: parse_coordinates,
    Arg.WINDOW_SIZE: parse_window_size,
    Arg.NUMBER: check_number,
    Arg.OPTIONAL_NUMBER: check_number,
    Arg.JSON: check_json,
}


def has_variable(text: str) -> bool:
    return "${" in text


def check_argument(index: int, field: str, kind: Arg, text: str) -> dict | None:
    """One problem with a target or value, or None."""
    if not text.strip():
        if kind in REQUIRED_ARGS:
            return problem(index, field, f"{field} is required ({kind.value})")
        return None
    check = FORMAT_CHECKS.get(kind)
    if check is None:
        return None
    if has_variable(text):
        # The value is only known at run time, but a locator's strategy must be literal text.
        if kind is Arg.LOCATOR and not text.startswith("//"):
            strategy = text.partition("=")[0]
            if has_variable(strategy) or "=" not in text:
                return problem(index, field, f"Unknown locator {strategy} (the strategy cannot come from a variable)")
            if strategy not in ELEMENT_STRATEGIES:
                return problem(index, field, f"Unknown locator {strategy}")
        return None
    try:
        check(text)
    except LocatorError as error:
        return problem(index, field, str(error))
    return None


def problem(index: int, field: str, message: str) -> dict:
    return {"index": index, "field": field, "message": message}


def is_unsupported(found: dict) -> bool:
    """Whether a problem validate_commands found is an unsupported command (such a problem names it)."""
    return "command" in found


def validate_commands(commands: Sequence[Any], policy: HostPolicy | None = None) -> list[dict]:
    """List every problem as {index, field, message}; an empty list means the script can be saved.

    The problem of an unsupported command also names it (`command`): an import keeps such a test, not runnable.

    `open` targets with a refused scheme are refused always, literal refused hosts when a policy is given.
    """
    problems: list[dict] = []
    if not isinstance(commands, (list, tuple)):
        return [problem(0, "commands", "commands must be a list")]
    for index, command in enumerate(commands):
        if not isinstance(command, dict):
            problems.append(problem(index, "command", "Each command must be an object"))
            continue
        for field in ("target", "value"):
            if command.get(field) is not None and not isinstance(command.get(field), (str, int, float)):
                problems.append(problem(index, field, f"{field} must be a string"))
        if is_skipped(command):
            continue
        name = command_name(command)
        spec = COMMANDS.get(name)
        if spec is None:
            problems.append({**problem(index, "command", f"Unknown command {name}"), "command": name})
            continue
        target, value = str(command.get("target") or ""), str(command.get("value") or "")
        if name == "storeTitle" and not (target or value):
            problems.append(problem(index, "target", "target is required (variable name)"))
        if name == "times" and target and not has_variable(target):
            found = check_argument(index, "target", Arg.NUMBER, target)
            if found:
                problems.append(found)
        for field, kind, text in (("target", spec.target, target), ("value", spec.value, value)):
            found = check_argument(index, field, kind, text)
            if found:
                problems.append(found)
        refused = literal_target_problem(target, policy) if name == "open" else None
        if refused:
            problems.append(problem(index, "target", refused))
    try:
        build_blocks([command if isinstance(command, dict) else {} for command in commands])
    except ControlFlowError as error:
        problems.append(problem(error.index, "command", error.message))
    return sorted(problems, key=lambda item: item["index"])
