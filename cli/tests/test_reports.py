"""Reports built by the CLI itself: a load run's JUnit, artifact file names, GitHub's annotations and summary."""

import sys
import xml.etree.ElementTree as ET

import pytest

from testfleet_cli import github
from testfleet_cli.artifacts import safe
from testfleet_cli.junit import load_suite, recount
from testfleet_cli.run_kinds import LoadRun
from testfleet_cli.verdict import ExitCode
from testfleet_cli.watch import Outcome

LOAD = {"run_id": "l1", "scenario_id": "s1", "scenario_name": "home", "state": "failed", "elapsed_ms": 10_000,
        "stats": {"total": {"requests": 100, "failures": 2, "rps": 10.0, "p95_ms": 250.0}}, "users": 5,
        "thresholds": [{"name": "p95_ms", "limit": 100, "actual": 250.0, "passed": False},
                       {"name": "max_failure_ratio", "limit": 0.05, "actual": 0.02, "passed": True}]}  # fmt: skip


def test_a_load_run_is_a_testcase_per_threshold():
    suite = load_suite(LoadRun("l1"), LOAD)
    recount(suite)
    cases = suite.findall("testcase")
    assert [case.get("name") for case in cases] == ["p95_ms", "max_failure_ratio"]
    assert cases[0].find("failure").get("message") == "p95_ms: 250.0 (limit 100)" and cases[1].find("failure") is None
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("2", "1", "0")
    ET.fromstring(ET.tostring(suite))  # well formed


def test_a_load_run_that_could_not_run_is_an_error():
    suite = load_suite(LoadRun("l1"), {**LOAD, "state": "error", "thresholds": [],
                                       "error": {"code": "target_unreachable", "message": "refused"}})  # fmt: skip
    [case] = suite.findall("testcase")
    assert case.get("name") == "load run" and case.find("error").get("message") == "refused"


@pytest.mark.parametrize(
    ("name", "expected"),
    [("login test", "login_test"), ("../../etc/passwd", "etc_passwd"), ("a/b", "a_b"), ("...", "item"), ("", "item")],
)
def test_artifact_names_stay_inside_their_folder(name, expected):
    assert safe(name) == expected


def test_github_annotations_escape_what_would_end_them(capsys):
    snapshot = {**LOAD, "scenario_name": "a,b: c"}
    outcome = Outcome([LoadRun("l1")], {"l1": snapshot}, ExitCode.FAILED)
    github.annotate(outcome, sys.stdout)
    line = capsys.readouterr().out.strip()
    assert line == "::error title=a%2Cb%3A c / p95_ms (failed)::p95_ms: 250.0 (limit 100)"
    assert github.escape_data("50%\nnext") == "50%25%0Anext"
    summary = github.summary(outcome)
    assert "### TestFleet: failed (exit 1)" in summary and "| a,b: c / p95_ms | failed |" in summary
