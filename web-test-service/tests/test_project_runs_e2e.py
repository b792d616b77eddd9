"""Project runs end to end: the API, a real Celery worker with two browser slots and real headless Chromium.

Suite rules as selenium-side-runner has them (a plain suite in order, each test in a fresh browser; a
persistSession suite in one session; a parallel suite fanned out), retries and flakiness, unrunnable tests,
stop, the JUnit report read back with junitparser.
"""

from __future__ import annotations

import itertools
from datetime import datetime

import pytest
from browsers import browser_processes
from junitparser import Error, Failure, JUnitXml
from junitparser.xunit2 import TestCase as XUnit2Case

from shared.counting_pages import CountingPages
from shared.testing import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]
API = "/api/v1/web-test"
TERMINAL = ("passed", "failed", "error", "stopped")
SET_COOKIE = ("executeScript", "document.cookie = 'seen=yes; path=/'; return 1", "x")
READ_COOKIE = ("executeScript", "return document.cookie.includes('seen=yes') ? 'yes' : 'no'", "cookie")


def flaky_title(path: str, served: int) -> str:
    """/flaky.html is titled "Broken" the first time it is served and "Fixed" after; any other page "Plain"."""
    if path != "/flaky.html":
        return "Plain"
    return "Broken" if served == 1 else "Fixed"


@pytest.fixture()
def flaky_site():
    pages = CountingPages(flaky_title)
    yield pages.url
    pages.stop()


def side_test(test_id, name, commands):
    return {"id": test_id, "name": name, "commands": [
        {"id": f"{test_id}-{i}", "command": c, "target": t, "targets": [], "value": v}
        for i, (c, t, v) in enumerate(commands)
    ]}  # fmt: skip


def suite(suite_id, name, tests, *, parallel=False, persist=False):
    return {"id": suite_id, "name": name, "parallel": parallel, "persistSession": persist, "timeout": 30000,
            "tests": tests}  # fmt: skip


def import_project(client, headers, tests, suites, url):
    side = {"id": "e2e", "version": "3.0", "name": "e2e", "url": url, "urls": [url], "plugins": [],
            "tests": tests, "suites": suites}  # fmt: skip
    created = client.post(f"{API}/projects", json=side, headers=headers)
    assert created.status_code == 201, created.json
    return created.json["project"]["id"]


def run_project(client, headers, project_id, body=None, timeout=150):
    started = client.post(f"{API}/projects/{project_id}/run", json=body or {}, headers=headers)
    assert started.status_code == 202, started.json

    def finished():
        run = client.get(f"{API}/project-runs/{started.json['id']}", headers=headers).json
        return run if run["state"] in TERMINAL else None

    return wait_until(finished, timeout, 0.2, what="the project run to finish")


def suite_tests(run, suite_name):
    return next(s for s in run["suites"] if s["name"] == suite_name)["tests"]


def interval(test):
    attempt = test["attempts"][-1]
    return datetime.fromisoformat(attempt["started_at"]), datetime.fromisoformat(attempt["finished_at"])


def test_suites_keep_selenium_ides_order_and_session_rules(client, auth_header, two_slot_worker, site):
    alice = auth_header("tester", "alice")
    tests = [
        side_test("f1", "fan 1", [("open", "/login.html", ""), ("pause", "1500", "")]),
        side_test("f2", "fan 2", [("open", "/login.html", ""), ("pause", "1500", "")]),
        side_test("set", "set cookie", [("open", "/login.html", ""), SET_COOKIE]),
        side_test("kept", "cookie kept", [("open", "/login.html", ""), READ_COOKIE, ("assert", "cookie", "yes")]),
        side_test("gone", "cookie gone", [("open", "/login.html", ""), READ_COOKIE, ("assert", "cookie", "no")]),
        side_test("sub", "remember who", [("store", "tom", "who")]),  # in no suite: only `run` reaches it
        side_test("caller", "runs a sub-test", [("run", "remember who", ""), ("assert", "who", "tom")]),
    ]
    suites = [
        suite("s1", "fan", ["f1", "f2"], parallel=True),
        suite("s2", "session", ["set", "kept"], persist=True),
        suite("s3", "plain", ["set", "gone", "caller"]),
    ]
    project_id = import_project(client, alice, tests, suites, site)
    run = run_project(client, alice, project_id)
    assert run["state"] == "passed", run
    assert run["counts"]["passed"] == 7 and run["total"] == 7  # the sub-test only through its caller
    for name in ("session", "plain"):  # in order: each starts after the one before finished
        for before, after in itertools.pairwise(suite_tests(run, name)):
            assert interval(before)[1] <= interval(after)[0], (name, before, after)

    fan = run_project(client, alice, project_id, {"suite": "fan"})
    assert fan["state"] == "passed" and [s["name"] for s in fan["suites"]] == ["fan"]
    (start_1, end_1), (start_2, end_2) = (interval(test) for test in suite_tests(fan, "fan"))
    assert start_1 < end_2 and start_2 < end_1, "the parallel suite's tests ran one after the other"
    assert not browser_processes(two_slot_worker)


def test_retries_mark_a_test_that_passed_late_flaky_and_junit_says_so(client, auth_header, two_slot_worker, flaky_site):
    alice = auth_header("tester", "alice")
    tests = [
        side_test("fl", "flaky", [("open", "/flaky.html", ""), ("assertTitle", "Fixed", "")]),
        side_test("bad", "always wrong", [("open", "/plain.html", ""), ("assertTitle", "Fixed", "")]),
        side_test("plug", "plugin", [("open", "/plain.html", ""), ("customClick", "id=p", "")]),
    ]
    project_id = import_project(client, alice, tests, [suite("s", "all", ["fl", "bad", "plug"])], flaky_site)
    run = run_project(client, alice, project_id, {"retries": 2})
    assert run["state"] == "error", run  # the plugin test: the worst test decides
    flaky, wrong, plugin = suite_tests(run, "all")
    assert flaky["state"] == "passed" and flaky["flaky"] is True
    assert [(a["attempt"], a["state"]) for a in flaky["attempts"]] == [(1, "failed"), (2, "passed")]
    assert [(a["attempt"], a["state"]) for a in wrong["attempts"]] == [(1, "failed"), (2, "failed"), (3, "failed")]
    assert plugin["state"] == "error" and len(plugin["attempts"]) == 1 and plugin["attempts"][0]["started_at"] is None
    assert run["counts"] | {"queued": 0} == {"queued": 0, "running": 0, "passed": 1, "failed": 1, "error": 1,
                                             "stopped": 0, "flaky": 1}  # fmt: skip
    for attempt in flaky["attempts"] + wrong["attempts"]:  # every attempt kept, each a run of its own
        child = client.get(f"{API}/runs/{attempt['run_id']}", headers=alice).json
        assert (child["state"], child["attempt"], child["project_run_id"]) == (
            attempt["state"],
            attempt["attempt"],
            run["id"],
        )
        assert child["flaky"] == (attempt["attempt"] == 2 and attempt["run_id"] == flaky["run_id"])
    recent = client.get(f"{API}/scripts/{flaky['script_id']}", headers=alice).json["recent"]
    assert [verdict["state"] for verdict in recent] == ["passed", "failed"]

    xml = client.get(f"{API}/project-runs/{run['id']}/junit.xml", headers=alice)
    assert xml.status_code == 200 and xml.mimetype == "application/xml"
    (junit_suite,) = JUnitXml.fromstring(xml.data)
    assert (junit_suite.name, junit_suite.tests, junit_suite.failures, junit_suite.errors) == ("all", 3, 1, 1)
    cases = {case.name: XUnit2Case.fromelem(case) for case in junit_suite}
    assert cases["flaky"].result == [] and cases["flaky"].is_flaky
    assert {p.name: p.value for p in cases["flaky"].properties()}["flaky"] == "true"
    failure = cases["always wrong"].result[0]
    assert (
        isinstance(failure, Failure)
        and "assertTitle" in failure.message
        and len(cases["always wrong"].rerun_failures()) == 2
    )
    screenshot = {p.name: p.value for p in cases["always wrong"].properties()}["screenshot"]
    assert screenshot.endswith(f"/runs/{wrong['run_id']}/steps/1/screenshot") and screenshot in failure.text
    shot = client.get(screenshot.removeprefix("http://localhost"), headers=alice)
    assert shot.status_code == 200 and shot.data[:4] == b"\x89PNG"
    assert isinstance(cases["plugin"].result[0], Error) and "customClick" in cases["plugin"].result[0].message


def test_stopping_a_project_run_stops_every_test_and_leaves_no_browser(client, auth_header, two_slot_worker, site):
    alice = auth_header("tester", "alice")
    slow = [("open", "/login.html", ""), ("pause", "60000", "")]
    tests = [side_test(f"t{i}", f"slow {i}", slow) for i in range(4)]
    suites = [suite("s1", "in order", ["t0", "t1"], persist=True), suite("s2", "fan", ["t2", "t3"], parallel=True)]
    project_id = import_project(client, alice, tests, suites, site)
    started = client.post(f"{API}/projects/{project_id}/run", json={"retries": 1}, headers=alice).json
    url = f"{API}/project-runs/{started['id']}"

    def two_running():
        return client.get(url, headers=alice).json["counts"]["running"] == 2

    wait_until(two_running, 60, 0.2, what="both browser slots running a test")
    stopped = client.post(f"{url}/stop", headers=alice)
    assert stopped.status_code == 202

    def settled():
        run = client.get(url, headers=alice).json
        return run if run["state"] in TERMINAL else None

    run = wait_until(settled, 5, 0.1, what="every test stopped within 5 s of the stop")
    assert run["state"] == "stopped" and run["counts"]["stopped"] == 4, run
    assert all(len(test["attempts"]) == 1 for s in run["suites"] for test in s["tests"])  # no retry of a stop
    wait_until(lambda: not browser_processes(two_slot_worker), 10, 0.2, what="no browser process left")


def test_a_reimport_keeps_the_project_runs_and_the_tests_history(client, auth_header, web_worker, site):
    alice = auth_header("tester", "alice")
    tests = [side_test("a", "title", [("open", "/login.html", ""), ("assertTitle", "Login", "")])]
    project_id = import_project(client, alice, tests, [suite("s", "s", ["a"])], site)
    first = run_project(client, alice, project_id)
    assert first["state"] == "passed"
    tests[0]["commands"].append({"id": "a-2", "command": "echo", "target": "again", "value": ""})
    side = {
        "id": "e2e",
        "version": "3.0",
        "name": "e2e",
        "url": site,
        "tests": tests,
        "suites": [suite("s", "s", ["a"])],
    }
    assert client.put(f"{API}/projects/{project_id}", json=side, headers=alice).status_code == 200
    second = run_project(client, alice, project_id)
    history = client.get(f"{API}/projects/{project_id}/runs", headers=alice).json["items"]
    assert [item["id"] for item in history] == [second["id"], first["id"]]
    script_id = suite_tests(second, "s")[0]["script_id"]
    assert script_id == suite_tests(first, "s")[0]["script_id"]
    assert len(client.get(f"{API}/scripts/{script_id}", headers=alice).json["recent"]) == 2
