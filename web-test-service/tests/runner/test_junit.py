"""JUnit XML for web-test runs."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime

from web_test_service.junit import build_junit_xml
from web_test_service.runner import RunResult, StepResult


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


def parse(xml: str) -> ET.Element:
    return ET.fromstring(xml.encode())


def test_counts_and_outcomes():
    root = parse(build_junit_xml(RUNS, suite_name="shop", timestamp=datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)))
    suite = root.find("testsuite")
    assert suite.attrib["tests"] == "5" and suite.attrib["failures"] == "1"
    assert suite.attrib["errors"] == "1" and suite.attrib["skipped"] == "1"
    assert suite.attrib["timestamp"].startswith("2025-01-02T03:04:05")
    assert root.attrib["tests"] == "5"
    cases = {case.attrib["name"]: case for case in suite.findall("testcase")}
    assert cases["passes"].attrib["time"] == "1.200"
    assert list(cases["passes"].iter("failure")) == []
    failure = cases["fails"].find("failure")
    assert failure.attrib["message"] == "command 1 (assertText id=title Bye): Actual value 'Hello' did not match 'Bye'"
    assert "boom" in cases["fails"].find("system-err").text
    assert "[passed] command 0 (open /)" in cases["fails"].find("system-out").text
    assert cases["errs"].find("error").attrib["message"] == "command 0 (click foo=bar): Unknown locator foo"
    assert "Stopped on request" in cases["stopped"].find("skipped").attrib["message"]
    assert "bad" in "".join(cases)


def test_run_results_are_accepted_directly():
    result = RunResult(
        state="failed",
        message="Element id=x not found",
        steps=[StepResult(0, "click", "id=x", "", "failed", 3, "Element id=x not found", b"\x89PNG")],
    )
    root = parse(build_junit_xml([dict(result.to_dict(), name="from result")]))
    assert root.find("testsuite/testcase/failure").attrib["message"].startswith("command 0 (click id=x)")
    root = parse(build_junit_xml([result]))
    assert root.find("testsuite/testcase").attrib["name"] == "run 1"


def test_no_runs_is_still_valid():
    assert parse(build_junit_xml([])).find("testsuite").attrib["tests"] == "0"
