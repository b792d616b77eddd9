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
from web_test_service.runner.errors import (
    ScriptError,
    ScriptTimeout,
    StepFailure,
    StopRequested,
    SubTestFailure,
    VerificationFailure,
)
from web_test_service.runner.outcomes import COMMAND_FAILED, Outcome, classify


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
    outcome = classify(error, RunContext(driver=None), check=True)
    # Selenium appends a documentation link to some errors raised on this side of the wire.
    assert outcome._replace(message=outcome.message.split("; For documentation")[0]) == expected


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (StepFailure("Element id=nope not found"), "Element id=nope not found"),
        (ElementClickInterceptedException("covered\nstack"), "covered"),
        (NoSuchWindowException("no such window"), "no such window"),
    ],
)
def test_the_page_not_as_expected_fails_a_check_and_errs_an_action(error, message):
    def outcome(check: bool) -> Outcome:
        found = classify(error, RunContext(driver=None), check=check)
        return found._replace(message=found.message.split("; For documentation")[0])

    assert outcome(check=True) == Outcome(FAILED, message)
    assert outcome(check=False) == Outcome(ERROR, message, code=COMMAND_FAILED)


@pytest.mark.parametrize("check", [True, False])
def test_what_does_not_depend_on_the_command(check):
    ctx = RunContext(driver=None)
    assert classify(VerificationFailure("differs"), ctx, check=check) == Outcome(FAILED, "differs", soft=True)
    assert classify(ScriptError("bad locator"), ctx, check=check) == Outcome(ERROR, "bad locator")
    # A sub-test's step ended as it did, whatever the `run` command that ran it is.
    for state, code in [(FAILED, None), (ERROR, COMMAND_FAILED), (ERROR, "target_blocked")]:
        sub_test = SubTestFailure(state, "In test 'x', command 1 (click id=a): not found", code)
        assert classify(sub_test, ctx, check=check) == Outcome(state, str(sub_test), code=code)


def test_invalid_session_is_the_browsers_fault():
    outcome = classify(InvalidSessionIdException("gone"), RunContext(driver=None), check=False)
    assert outcome.state == ERROR and outcome.infrastructure and outcome.message.startswith("Browser failed: gone")


def test_after_a_stop_a_broken_call_is_part_of_the_stop():
    ctx = RunContext(driver=None, should_stop=lambda: True)
    stopped = Outcome(STOPPED, "Stopped on request")
    assert classify(WebDriverException("chrome not reachable"), ctx, check=False) == stopped
    assert classify(NoSuchWindowException("gone"), ctx, check=False) == stopped


def test_a_selenium_timeout_at_the_deadline_is_the_scripts_timeout():
    ctx = RunContext(driver=None, deadline=0.0, timeout_ms=1000)
    assert classify(TimeoutException("script"), ctx, check=False) == Outcome(ERROR, "Script timed out after 1000 ms")
