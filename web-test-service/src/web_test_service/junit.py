"""Write web-test runs as JUnit XML for CI systems (one <testcase> per run)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from dataclasses import asdict, is_dataclass
from datetime import datetime
from typing import Any

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
    """One line per executed step, for <system-out>."""
    lines = []
    for step in run.get("steps") or []:
        line = f"[{step.get('state')}] {describe_step(step)} {step.get('duration_ms', 0)} ms"
        if step.get("message"):
            line += f": {step['message']}"
        lines.append(line)
    lines += [f"echo: {message}" for message in run.get("echo_log") or []]
    return "\n".join(lines)


def console_text(run: Mapping[str, Any]) -> str:
    return "\n".join(
        f"[{entry.get('level')}] {entry.get('message')}" for entry in run.get("console_log") or [] if entry
    )


def seconds(duration_ms: Any) -> str:
    return f"{(float(duration_ms or 0) / 1000):.3f}"


def add_outcome(case: ET.Element, run: Mapping[str, Any]) -> str:
    """Add <failure>/<error>/<skipped> to the testcase; return the outcome counted for the suite."""
    state = run.get("state")
    failures = failing_steps(run)
    # Name the step that decided the verdict: the last failure (an assert ends the run; verifies go on).
    decisive = failures[-1] if failures else None
    where = f"{describe_step(decisive)}: " if decisive else ""
    reason = (decisive.get("message") if decisive else None) or run.get("message") or state
    if state == "failed":
        element = ET.SubElement(case, "failure", message=clean(f"{where}{reason}"), type="AssertionError")
        element.text = clean("\n".join(f"{describe_step(step)}: {step.get('message')}" for step in failures))
        return "failures"
    if state == "error":
        element = ET.SubElement(case, "error", message=clean(f"{where}{reason}"), type="Error")
        element.text = clean("\n".join(f"{describe_step(step)}: {step.get('message')}" for step in failures))
        return "errors"
    if state == "stopped":
        # A stopped run neither passed nor failed: CI systems show it as skipped.
        ET.SubElement(case, "skipped", message=clean(f"Stopped: {run.get('message') or 'stopped on request'}"))
        return "skipped"
    if state in NOT_FINISHED_STATES:
        ET.SubElement(case, "skipped", message=clean(f"Run not finished (state {state})"))
        return "skipped"
    return "passed"


def build_junit_xml(
    runs: Iterable[Any],
    *,
    suite_name: str = "TestFleet web tests",
    timestamp: datetime | None = None,
) -> str:
    """JUnit XML for runs given as dicts {name, state, duration_ms, message, steps, ...} or RunResults."""
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    total_ms = 0.0
    suite = ET.Element("testsuite", name=clean(suite_name))
    for position, item in enumerate(runs):
        run = as_mapping(item)
        name = run.get("name") or run.get("script_name") or f"run {position + 1}"
        case = ET.SubElement(
            suite,
            "testcase",
            name=clean(name),
            classname=clean(run.get("classname") or suite_name),
            time=seconds(run.get("duration_ms")),
        )
        outcome = add_outcome(case, run)
        counts["tests"] += 1
        if outcome != "passed":
            counts[outcome] += 1
        total_ms += float(run.get("duration_ms") or 0)
        out = step_log(run)
        if out:
            ET.SubElement(case, "system-out").text = clean(out)
        err = console_text(run)
        if err:
            ET.SubElement(case, "system-err").text = clean(err)
    attributes = {key: str(value) for key, value in counts.items()} | {"time": seconds(total_ms)}
    suite.attrib.update(attributes)
    if timestamp is not None:
        suite.set("timestamp", timestamp.replace(microsecond=0).isoformat())
    root = ET.Element("testsuites", name=clean(suite_name), **attributes)
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
