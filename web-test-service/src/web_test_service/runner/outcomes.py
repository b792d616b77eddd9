"""Outcome of a step that raised: which step state an exception means and whether the run goes on."""

from __future__ import annotations

import logging
from typing import NamedTuple

from selenium.common.exceptions import (
    InvalidSessionIdException,
    JavascriptException,
    MoveTargetOutOfBoundsException,
    NoSuchFrameException,
    NoSuchWindowException,
    TimeoutException,
    UnexpectedAlertPresentException,
    WebDriverException,
)
from urllib3.exceptions import HTTPError as Urllib3Error

from web_test_service.runner.context import RETRYABLE_ERRORS, RunContext, selenium_message
from web_test_service.runner.errors import (
    ScriptError,
    ScriptTimeout,
    StepFailure,
    StopRequested,
    SubTestFailure,
    VerificationFailure,
)
from web_test_service.runner.policy import PolicyViolation
from web_test_service.runner.results import ERROR, FAILED, STOPPED

log = logging.getLogger(__name__)

# Selenium errors that mean the page is not as the step expects, like a StepFailure (not_as_expected).
PAGE_ERRORS = (
    *RETRYABLE_ERRORS,
    MoveTargetOutOfBoundsException,
    NoSuchWindowException,
    NoSuchFrameException,
    UnexpectedAlertPresentException,
)
TARGET_BLOCKED = "target_blocked"
# An action (click, type, storeText...) found no element or could not use it: the test could not run as written.
COMMAND_FAILED = "command_failed"
BROWSER_GONE_MARKERS = (
    "chrome not reachable",
    "session deleted",
    "disconnected",
    "no such session",
    "target crashed",
    "tab crashed",
)


class Outcome(NamedTuple):
    """How a step that raised ends: its state and message, whether the run goes on, whose fault."""

    state: str
    message: str
    soft: bool = False  # a verify* failure: the run goes on
    infrastructure: bool = False  # the browser or the grid broke, not the script
    code: str | None = None  # the run's error code, when more precise than its state


def classify(error: Exception, ctx: RunContext, *, check: bool) -> Outcome:
    """The outcome of an exception raised by a step of the run in ctx; check: the step's command is one of
    CHECK_COMMANDS (runner/commands/__init__.py)."""
    if isinstance(error, StopRequested):
        return Outcome(STOPPED, str(error))
    if ctx.should_stop() and isinstance(error, (WebDriverException, Urllib3Error, OSError)):
        return Outcome(STOPPED, "Stopped on request")
    if isinstance(error, ScriptTimeout):
        return Outcome(ERROR, str(error))
    if isinstance(error, SubTestFailure):
        return Outcome(error.state, str(error), code=error.code)
    if isinstance(error, VerificationFailure):
        return Outcome(FAILED, str(error), soft=True)
    if isinstance(error, StepFailure):
        return not_as_expected(str(error), check)
    if isinstance(error, PolicyViolation):
        return Outcome(ERROR, str(error), code=TARGET_BLOCKED)
    if isinstance(error, ScriptError):
        return Outcome(ERROR, str(error))
    if isinstance(error, TimeoutException):
        remaining = ctx.remaining_s()
        if remaining is not None and remaining <= 0.5:
            return Outcome(ERROR, f"Script timed out after {ctx.timeout_ms} ms")
        return Outcome(ERROR, f"Timed out: {selenium_message(error)}")
    if isinstance(error, JavascriptException):
        return Outcome(ERROR, f"JavaScript error: {selenium_message(error)}")
    if isinstance(error, PAGE_ERRORS):
        return not_as_expected(selenium_message(error), check)
    if isinstance(error, (InvalidSessionIdException, Urllib3Error, ConnectionError)) or (
        isinstance(error, WebDriverException) and is_browser_gone(error)
    ):
        return Outcome(ERROR, f"Browser failed: {selenium_message(error)}", infrastructure=True)
    if isinstance(error, WebDriverException):
        return Outcome(ERROR, selenium_message(error))
    log.exception("Unexpected error in a web-test step")
    return Outcome(ERROR, f"Internal error: {type(error).__name__}: {error}")


def not_as_expected(message: str, check: bool) -> Outcome:
    """A page not as the step expects: a check that did not hold fails the run, an action that could not find or
    use its element errs it (docs/api.md, the run states)."""
    if check:
        return Outcome(FAILED, message)
    return Outcome(ERROR, message, code=COMMAND_FAILED)


def is_browser_gone(error: WebDriverException) -> bool:
    """Whether the error means the browser itself crashed or disappeared."""
    text = (selenium_message(error) or "").lower()
    return any(marker in text for marker in BROWSER_GONE_MARKERS)
