"""Write web-test runs as JUnit XML for CI systems (one <testcase> per run), with junitparser.

A project run is one <testsuite> per suite; a test's earlier attempts are Surefire's <flakyFailure>/<flakyError>
(it passed in the end) or <rerunFailure>/<rerunError> (it did not), which Jenkins, GitLab and others read.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, is_dataclass
from datetime import datetime
from typing import Any

from junitparser import Error, Failure, JUnitXml, Skipped, TestSuite
from junitparser.xunit2 import FlakyError, FlakyFailure, RerunError, RerunFailure, TestCase

# XML 1.0 cannot carry these characters at all, escaped or not.
INVALID_XML_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
NOT_FINISHED_STATES = ("queued", "running")


def clean(text: Any) -> str:
    """Text safe for an XML attribute or element."""
    return INVALID_XML_CHARS.sub("\ufffd", "" if text is None else str(text))


def as_mapping(run: Any) -> Mapping[str, Any]:
    """Accept a dict, a RunResult-like dataclass, or an object with to_dict()."""
    if isinstance(run, Mapping):
        return run
    if hasattr(run, "to_dict"):
        return run.to_dict()
    if is_dataclass(run) and not isinstance(run, type):
        return asdict(run)
    raise TypeError(f"Cannot write {type(run).__name__} as a JUnit test case")


def describe_step(step: Mapping[str, Any]) -> str:
    """`command 3 (assertText id=title)` for failure messages."""
    parts = [str(step.get("command") or "")]
    if step.get("target"):
        parts.append(str(step["target"]))
    if step.get("value"):
        parts.append(str(step["value"]))
    return f"command {step.get('index')} ({' '.join(parts)})"


def failing_steps(run: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    steps = run.get("steps") or []
    return [step for step in steps if isinstance(step, Mapping) and step.get("state") in ("failed", "error")]


def step_log(run: Mapping[str, Any]) -> str:
    """One line per executed step, then the echo log, for <system-out>."""
    lines = []
    for step in run.get("steps") or []:
        line = f"[{step.get('state')}] {describe_step(step)} {step.get('duration_ms', 0)} ms"
        if step.get("message"):
            line += f": {step['message']}"
        lines.append(line)
    lines += [f"echo: {message}" for message in run.get("echo_log") or []]
    return "\n".join(lines)


def console_text(run: Mapping[str, Any]) -> str:
    """The browser console log, for <system-err>."""
    return "\n".join(
        f"[{entry.get('level')}] {entry.get('message')}" for entry in run.get("console_log") or [] if entry
    )


def seconds(duration_ms: Any) -> float:
    return round(float(duration_ms or 0) / 1000, 3)


def outcome(run: Mapping[str, Any]) -> Failure | Error | Skipped | None:
    """The <failure>/<error>/<skipped> of a run, naming the step that decided it; None if it passed."""
    state = run.get("state")
    failures = failing_steps(run)
    # Name the step that decided the verdict: the last failure (an assert ends the run; verifies go on).
    decisive = failures[-1] if failures else None
    where = f"{describe_step(decisive)}: " if decisive else ""
    reason = (decisive.get("message") if decisive else None) or run.get("message") or state
    if state in ("failed", "error"):
        message = clean(f"{where}{reason}")
        result = Failure(message, "AssertionError") if state == "failed" else Error(message, "Error")
        result.text = clean("\n".join(f"{describe_step(step)}: {step.get('message')}" for step in failures))
        return result
    if state == "stopped":
        # A stopped run neither passed nor failed: CI systems show it as skipped.
        return Skipped(clean(f"Stopped: {run.get('message') or 'stopped on request'}"))
    if state in NOT_FINISHED_STATES:
        return Skipped(clean(f"Run not finished (state {state})"))
    return None


def testcase_for(run: Mapping[str, Any], name: str, classname: str) -> TestCase:
    """One run as a <testcase>: outcome, step and echo log on system-out, console on system-err."""
    case = TestCase(clean(name), clean(classname), seconds(run.get("duration_ms")))
    result = outcome(run)
    if result is not None:
        case.result = [result]
    out, err = step_log(run), console_text(run)
    if out:
        case.system_out = clean(out)
    if err:
        case.system_err = clean(err)
    return case


def interim_result(attempt: Mapping[str, Any], flaky: bool):
    """An earlier failed attempt of a test, as <flakyFailure> (flaky: it passed later) or <rerunFailure>."""
    failed = attempt.get("state") == "failed"
    kind = (FlakyFailure if failed else FlakyError) if flaky else (RerunFailure if failed else RerunError)
    final = outcome(attempt)
    result = kind(final.message if final is not None else None, final.type if final is not None else None)
    if final is not None and final.text:
        result.stack_trace = final.text
    return result


def project_testcase(case: Mapping[str, Any], classname: str) -> TestCase:
    """A test of a project run: its last attempt's testcase, the earlier ones as interim results, properties."""
    testcase = testcase_for(case, case.get("name") or "test", classname)
    earlier = case.get("earlier") or []
    for attempt in earlier:
        testcase.add_interim_result(interim_result(attempt, flaky=case.get("state") == "passed"))
    properties = {"run_id": case.get("run_id"), "attempts": len(earlier) + 1}
    properties |= {"flaky": "true"} if case.get("flaky") else {}
    properties |= {"screenshot": case["screenshot_url"]} if case.get("screenshot_url") else {}
    for name, value in properties.items():
        testcase.add_property(name, clean(value))
    if case.get("screenshot_url") and testcase.result:
        testcase.result[0].text = clean(
            f"{testcase.result[0].text or ''}\nscreenshot: {case['screenshot_url']}".strip()
        )
    return testcase


def build_project_junit_xml(
    suites: Iterable[Mapping[str, Any]], *, name: str, timestamp: datetime | None = None
) -> str:
    """JUnit XML of a project run: suites as [{name, cases: [case dicts, each with `earlier` attempts]}]."""
    document = JUnitXml(clean(name))
    for suite_data in suites:
        suite = TestSuite(clean(suite_data["name"]))
        for case in suite_data["cases"]:
            suite.add_testcase(project_testcase(case, suite_data["name"]))
        suite.update_statistics()
        if timestamp is not None:
            suite.timestamp = timestamp.replace(microsecond=0).isoformat()
        document.add_testsuite(suite)
    document.update_statistics()
    return _written(document)


def _written(document: JUnitXml) -> str:
    buffer = io.BytesIO()
    document.write(buffer, pretty=True)
    return buffer.getvalue().decode("utf-8")


def build_junit_xml(
    runs: Iterable[Any],
    *,
    suite_name: str = "TestFleet web tests",
    timestamp: datetime | None = None,
) -> str:
    """JUnit XML for runs given as dicts {name, state, duration_ms, message, steps, ...} or RunResults."""
    suite = TestSuite(clean(suite_name))
    for position, item in enumerate(runs):
        run = as_mapping(item)
        name = run.get("name") or run.get("script_name") or f"run {position + 1}"
        suite.add_testcase(testcase_for(run, name, run.get("classname") or suite_name))
    suite.update_statistics()
    if timestamp is not None:
        suite.timestamp = timestamp.replace(microsecond=0).isoformat()
    document = JUnitXml(clean(suite_name))
    document.add_testsuite(suite)
    document.update_statistics()
    return _written(document)
