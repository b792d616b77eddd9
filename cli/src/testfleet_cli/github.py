"""GitHub Actions: failures as `::error` annotations, and a Markdown summary appended to $GITHUB_STEP_SUMMARY."""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO

from testfleet_cli.watch import Outcome


def escape_data(text: str) -> str:
    """A workflow command's message (GitHub's toolkit escapes %, CR and LF)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A workflow command's property value (also ':' and ',')."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def active() -> bool:
    return os.environ.get("GITHUB_ACTIONS") == "true"


def annotate(outcome: Outcome, stream: IO[str]) -> None:
    """One `::error` line per failing test, threshold or run."""
    for run in outcome.runs:
        for failure in run.failures(outcome.snapshots.get(run.id) or {}):
            title = escape_property(f"{failure.title} ({failure.state})")
            print(f"::error title={title}::{escape_data(failure.message)}", file=stream, flush=True)


def cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def summary(outcome: Outcome) -> str:
    """The result as Markdown: a table of runs, then what failed."""
    result = outcome.result()
    lines = [f"### TestFleet: {result['verdict']} (exit {result['exit_code']})", "", "| run | name | state | |",
             "|---|---|---|---|"]  # fmt: skip
    for run in result["runs"]:
        lines.append(f"| {run['kind']} `{run['id']}` | {cell(run['name'])} | {run['state']} | {cell(run['counts'])} |")
    failures = [failure for run in result["runs"] for failure in run["failures"]]
    if failures:
        lines += ["", "| failed | state | why |", "|---|---|---|"]
        lines += [f"| {cell(f['title'])} | {f['state']} | {cell(f['message'])} |" for f in failures]
    return "\n".join(lines) + "\n"


def append_summary(outcome: Outcome) -> None:
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if path:
        with Path(path).open("a", encoding="utf-8") as out:
            out.write(summary(outcome))
