"""One JUnit XML file for everything a command waited for: the server's reports of web and project runs, and a
load run's thresholds as testcases (one per threshold), under one <testsuites>."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from testfleet_cli.gateway import ApiError, Gateway, Unreachable
from testfleet_cli.run_kinds import LoadRun, RunKind, Snapshot, load_figures, message_of
from testfleet_cli.watch import Outcome

COUNTED = ("tests", "failures", "errors", "skipped")


def load_suite(run: RunKind, snapshot: Snapshot) -> ET.Element:
    """A load run as a <testsuite>: a testcase per threshold; without thresholds, one for the run itself."""
    name = run.name(snapshot)
    seconds = f"{(snapshot.get('elapsed_ms') or 0) / 1000:.3f}"
    suite = ET.Element("testsuite", name=name, timestamp=str(snapshot.get("started_at") or ""))
    properties = ET.SubElement(suite, "properties")
    for key in ("run_id", "scenario_id", "report_url"):
        ET.SubElement(properties, "property", name=key, value=str(snapshot.get(key) or ""))
    state = snapshot.get("state")
    checks = snapshot.get("thresholds") or []
    cases = [(str(check.get("name")), check) for check in checks] or [("load run", None)]
    for case_name, check in cases:
        case = ET.SubElement(suite, "testcase", classname=f"load.{name}", name=case_name, time=seconds)
        if state == "error":
            ET.SubElement(case, "error", message=message_of(snapshot.get("error")) or "error").text = (
                message_of(snapshot.get("error")))  # fmt: skip
        elif state == "stopped" or state not in ("passed", "failed"):
            ET.SubElement(case, "skipped", message=f"the load run is {state}")
        elif check is not None and not check.get("passed"):
            text = f"{check.get('name')}: {check.get('actual')} (limit {check.get('limit')})"
            ET.SubElement(case, "failure", message=text, type="threshold").text = text
    figures = load_figures(snapshot)
    ET.SubElement(suite, "system-out").text = (
        f"{figures['requests']} requests, {figures['failures']} failures, {figures['rps']:.2f} req/s, "
        f"p95 {figures['p95_ms']:.1f} ms, peak {figures['users']} users")  # fmt: skip
    return suite


def suites_of(gateway: Gateway, run: RunKind, snapshot: Snapshot) -> list[ET.Element]:
    """The run's <testsuite> elements: the server's report for web and project runs, built here for load runs."""
    if isinstance(run, LoadRun):
        return [load_suite(run, snapshot)]
    path = run.junit_path()
    if path is None:
        return []
    root = ET.fromstring(gateway.request("GET", path).content)  # noqa: S314 (the platform's own report)
    return [root] if root.tag == "testsuite" else list(root.iter("testsuite"))


def write(gateway: Gateway, outcome: Outcome, path: Path) -> list[str]:
    """Write the JUnit of every run of outcome to path; the problems met (a run whose report could not be read)."""
    problems = []
    top = ET.Element("testsuites", name="testfleet")
    for run in outcome.runs:
        try:
            for suite in suites_of(gateway, run, outcome.snapshots.get(run.id) or {}):
                recount(suite)
                top.append(suite)
        except (ApiError, Unreachable, ET.ParseError) as error:
            problems.append(f"no JUnit for {run.noun} {run.id}: {error}")
    for key in COUNTED:
        top.set(key, str(sum(int(suite.get(key) or 0) for suite in top)))
    top.set("time", f"{sum(float(suite.get('time') or 0) for suite in top):.3f}")
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(top).write(path, encoding="utf-8", xml_declaration=True)
    return problems


def recount(suite: ET.Element) -> None:
    """Set a suite's counts and time from its testcases (a built suite has none yet; the server's are kept)."""
    cases = suite.findall("testcase")
    if suite.get("tests") is None:
        suite.set("tests", str(len(cases)))
        suite.set("failures", str(sum(case.find("failure") is not None for case in cases)))
        suite.set("errors", str(sum(case.find("error") is not None for case in cases)))
        suite.set("skipped", str(sum(case.find("skipped") is not None for case in cases)))
    if suite.get("time") is None:
        suite.set("time", f"{sum(float(case.get('time') or 0) for case in cases):.3f}")
