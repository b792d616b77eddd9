"""What a command is: its argument kinds, its spec in the table, and the invocation a handler receives."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

from selenium.webdriver.remote.webelement import WebElement

from web_test_service.runner.context import RunContext


class Arg(Enum):
    """What a command's target or value holds; validation and interpolation depend on it."""

    NONE = "none"
    LOCATOR = "locator"
    OPTION = "option locator"
    ATTRIBUTE_LOCATOR = "attribute locator"
    FRAME = "frame locator"
    WINDOW = "window locator"
    COORDINATES = "coordinates"
    WINDOW_SIZE = "window size"
    TEXT = "text"
    OPTIONAL_TEXT = "optional text"
    VARIABLE = "variable name"
    OPTIONAL_VARIABLE = "optional variable name"
    SCRIPT = "script"
    NUMBER = "number"
    OPTIONAL_NUMBER = "optional number"
    JSON = "json"
    TEST_NAME = "test name"


REQUIRED_ARGS = frozenset(
    {
        Arg.LOCATOR,
        Arg.OPTION,
        Arg.ATTRIBUTE_LOCATOR,
        Arg.FRAME,
        Arg.WINDOW,
        Arg.COORDINATES,
        Arg.WINDOW_SIZE,
        Arg.TEXT,
        Arg.VARIABLE,
        Arg.SCRIPT,
        Arg.NUMBER,
        Arg.JSON,
        Arg.TEST_NAME,
    }
)


@dataclass(frozen=True)
class Invocation:
    """One command as a handler sees it: target and value already interpolated."""

    name: str
    target: str
    value: str
    raw_target: str = ""
    fallbacks: tuple[str, ...] = ()


Handler = Callable[[RunContext, Invocation], "str | None"]


@dataclass(frozen=True)
class CommandSpec:
    """How to run and validate one command."""

    handler: Handler | None  # None for control flow, which the engine itself executes
    target: Arg = Arg.NONE
    value: Arg = Arg.NONE
    keys: bool = field(default=False)  # the value may hold ${KEY_*}


def element(ctx: RunContext, inv: Invocation) -> WebElement:
    """The element the command's target (or one of its fallback targets) points to."""
    return ctx.find(inv.target, inv.fallbacks)
