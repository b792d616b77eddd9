"""JUnit XML for web-test runs, read back with junitparser as a CI system would."""

from __future__ import annotations

from datetime import UTC, datetime

from fake_driver import FakeBrowser, FakeElement
from junitparser import Error, Failure, JUnitXml, Skipped

from web_test_service.junit import build_junit_xml
from web_test_service.runner import RunResult, StepResult, run_script


def step(index, command, target, state, message=None, value=""):
    return {
        "index": index,
        "command": command,
        "target": target,
        "value": value,
        "state": state,
        "duration_ms": 5,
        "message": message,
    }


RUNS = [
    {"name": "passes", "state": "passed", "duration_ms": 1200, "steps": [step(0, "open", "/", "passed")]},
    {
        "name": "fails",
        "state": "failed",
        "duration_ms": 800,
        "message": "Actual value 'Hello' did not match 'Bye'",
        "steps": [
            step(0, "open", "/", "passed"),
            step(1, "assertText", "id=title", "failed", "Actual value 'Hello' did not match 'Bye'", "Bye"),
        ],
        "console_log": [{"level": "SEVERE", "message": "boom"}],
    },
    {
        "name": "errs",
        "state": "error",
        "duration_ms": 10,
        "message": "Unknown locator foo",
        "steps": [step(0, "click", "foo=bar", "error", "Unknown locator foo")],
    },
    {"name": "stopped", "state": "stopped", "duration_ms": 10, "message": "Stopped on request", "steps": []},
    {"name": "bad \x07 chars <&>", "state": "passed", "duration_ms": 0, "steps": [], "echo_log": ["hi\x01"]},
]


def parse(xml: str) -> JUnitXml:
    return JUnitXml.fromstring(xml.encode())


def only_suite(document: JUnitXml):
    suites = list(document)
    assert len(suites) == 1
    return suites[0]


def test_counts_and_outcomes():
    document = parse(build_junit_xml(RUNS, suite_name="shop", timestamp=datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)))
    suite = only_suite(document)
    assert suite.name == "shop"
    assert (suite.tests, suite.failures, suite.errors, suite.skipped) == (5, 1, 1, 1)
    assert suite.timestamp.startswith("2025-01-02T03:04:05")
    assert (document.tests, document.failures, document.errors, document.skipped) == (5, 1, 1, 1)
    assert suite.time == document.time == 2.02  # seconds
    cases = {case.name: case for case in suite}
    assert cases["passes"].time == 1.2 and cases["passes"].classname == "shop"
    assert cases["passes"].is_passed
    [failure] = cases["fails"].result
    assert isinstance(failure, Failure)
    assert failure.message == "command 1 (assertText id=title Bye): Actual value 'Hello' did not match 'Bye'"
    assert "boom" in cases["fails"].system_err
    assert "[passed] command 0 (open /)" in cases["fails"].system_out
    [error] = cases["errs"].result
    assert isinstance(error, Error) and error.message == "command 0 (click foo=bar): Unknown locator foo"
    [skipped] = cases["stopped"].result
    assert isinstance(skipped, Skipped) and "Stopped on request" in skipped.message
    assert "bad" in "".join(cases)
    assert cases["bad \ufffd chars <&>"].system_out == "echo: hi\ufffd"


def test_the_failure_names_the_deciding_step_and_lists_the_others():
    run = {
        "name": "verify then assert",
        "state": "failed",
        "duration_ms": 30,
        "steps": [
            step(0, "verifyTitle", "Nope", "failed", "Actual value 'Form' did not match 'Nope'"),
            step(1, "echo", "still here", "passed"),
            step(2, "assertText", "id=x", "failed", "Actual value 'a' did not match 'b'", "b"),
        ],
        "echo_log": ["still here"],
    }
    [case] = only_suite(parse(build_junit_xml([run])))
    [failure] = case.result
    assert failure.message == "command 2 (assertText id=x b): Actual value 'a' did not match 'b'"
    assert failure.text.splitlines() == [
        "command 0 (verifyTitle Nope): Actual value 'Form' did not match 'Nope'",
        "command 2 (assertText id=x b): Actual value 'a' did not match 'b'",
    ]
    assert case.system_out.splitlines()[-1] == "echo: still here"
    assert case.classname == "TestFleet web tests"


def test_unfinished_runs_are_skipped():
    [case] = only_suite(parse(build_junit_xml([{"name": "later", "state": "running"}])))
    assert case.is_skipped and "state running" in case.result[0].message


def test_run_results_are_accepted_directly():
    result = RunResult(
        state="error",
        message="Element id=x not found",
        steps=[StepResult(0, "click", "id=x", "", "error", 3, "Element id=x not found", b"\x89PNG")],
    )
    [case] = only_suite(parse(build_junit_xml([dict(result.to_dict(), name="from result")])))
    assert case.result[0].message.startswith("command 0 (click id=x)")
    [case] = only_suite(parse(build_junit_xml([result])))
    assert case.name == "run 1"


def run_on_fake_browser(command: str, target: str) -> RunResult:
    """A run of `open /` and the command on a fake browser showing a page titled Home."""
    browser = FakeBrowser()
    browser.driver.add_page("http://app.test/", "Home", FakeElement("h1", "Home", id="title"))
    commands = [{"command": "open", "target": "/"}, {"command": command, "target": target}]
    return run_script({"commands": commands}, browser.factory, base_url="http://app.test", implicit_wait_ms=50)


def test_a_click_that_finds_nothing_is_an_error_and_an_assert_a_failure():
    """What CI tools tell apart: <error> (the test could not run as written) from <failure> (a check did not hold)."""
    runs = [run_on_fake_browser("click", "id=missing"), run_on_fake_browser("assertText", "id=missing")]
    suite = only_suite(parse(build_junit_xml(runs)))
    assert (suite.tests, suite.failures, suite.errors) == (2, 1, 1)
    clicked, asserted = (case.result[0] for case in suite)
    assert isinstance(clicked, Error)
    assert clicked.message == "command 1 (click id=missing): Element id=missing not found"
    assert isinstance(asserted, Failure)
    assert asserted.message == "command 1 (assertText id=missing): Element id=missing not found"


def test_no_runs_is_still_valid():
    document = parse(build_junit_xml([]))
    assert only_suite(document).tests == 0 and document.tests == 0
