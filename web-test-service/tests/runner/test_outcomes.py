"""Which step state each exception raised by a step means, and whether the run goes on."""

from __future__ import annotations

import pytest
from selenium.common.exceptions import (
    ElementClickInterceptedException,
    InvalidSessionIdException,
    JavascriptException,
    NoSuchWindowException,
    TimeoutException,
    WebDriverException,
)
from urllib3.exceptions import ProtocolError

from web_test_service.runner import ERROR, FAILED, STOPPED
from web_test_service.runner.context import RunContext
from web_test_service.runner.errors import ScriptError, ScriptTimeout, StepFailure, StopRequested, VerificationFailure
from web_test_service.runner.outcomes import Outcome, classify


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (StopRequested("Stopped on request"), Outcome(STOPPED, "Stopped on request")),
        (ScriptTimeout("Script timed out after 5 ms"), Outcome(ERROR, "Script timed out after 5 ms")),
        (VerificationFailure("differs"), Outcome(FAILED, "differs", soft=True)),
        (StepFailure("differs"), Outcome(FAILED, "differs")),
        (ScriptError("bad locator"), Outcome(ERROR, "bad locator")),
        (TimeoutException("page load\nstack"), Outcome(ERROR, "Timed out: page load")),
        (JavascriptException("x is not defined"), Outcome(ERROR, "JavaScript error: x is not defined")),
        (ElementClickInterceptedException("covered"), Outcome(FAILED, "covered")),
        (NoSuchWindowException("no such window"), Outcome(FAILED, "no such window")),
        (
            WebDriverException("chrome not reachable"),
            Outcome(ERROR, "Browser failed: chrome not reachable", infrastructure=True),
        ),
        (
            ProtocolError("Connection aborted"),
            Outcome(ERROR, "Browser failed: Connection aborted", infrastructure=True),
        ),
        (
            WebDriverException("unknown error: net::ERR_NAME_NOT_RESOLVED"),
            Outcome(ERROR, "unknown error: net::ERR_NAME_NOT_RESOLVED"),
        ),
        (KeyError("x"), Outcome(ERROR, "Internal error: KeyError: 'x'")),
    ],
)
def test_classify(error, expected):
    outcome = classify(error, RunContext(driver=None))
    # Selenium appends a documentation link to some errors raised on this side of the wire.
    assert outcome._replace(message=outcome.message.split("; For documentation")[0]) == expected


def test_invalid_session_is_the_browsers_fault():
    outcome = classify(InvalidSessionIdException("gone"), RunContext(driver=None))
    assert outcome.state == ERROR and outcome.infrastructure and outcome.message.startswith("Browser failed: gone")


def test_after_a_stop_a_broken_call_is_part_of_the_stop():
    ctx = RunContext(driver=None, should_stop=lambda: True)
    assert classify(WebDriverException("chrome not reachable"), ctx) == Outcome(STOPPED, "Stopped on request")


def test_a_selenium_timeout_at_the_deadline_is_the_scripts_timeout():
    ctx = RunContext(driver=None, deadline=0.0, timeout_ms=1000)
    assert classify(TimeoutException("script"), ctx) == Outcome(ERROR, "Script timed out after 1000 ms")
