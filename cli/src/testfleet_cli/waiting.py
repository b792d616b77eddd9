"""Commands that start or follow runs: the options of waiting and reporting, and what happens once it ends."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click

from testfleet_cli import artifacts, github, junit, views
from testfleet_cli.gateway import Gateway
from testfleet_cli.run_kinds import RunKind
from testfleet_cli.verdict import ExitCode
from testfleet_cli.watch import Watch

F = TypeVar("F", bound=Callable[..., Any])

OUTPUTS = click.Choice(["text", "json", "ndjson"])


def output_option(command: F) -> F:
    return click.option("-o", "--output", type=OUTPUTS, default="text", show_default=True,
                        help="text: a live view on a terminal, one line per event otherwise; json: the result; "
                             "ndjson: one JSON object per event while waiting, then the result.")(command)  # fmt: skip


def wait_options(command: F) -> F:
    """The options of every command that waits for runs."""
    for option in reversed([
        click.option("--detach", is_flag=True, help="Start and return at once with the ids (exit 5)."),
        click.option("--timeout", "timeout_s", type=click.FloatRange(min=0), metavar="S",
                     help="Stop waiting after S seconds (exit 5 if a run is still going; it is not stopped)."),
        click.option("--junit", "junit_path", type=click.Path(dir_okay=False, path_type=Path), metavar="PATH",
                     help="Write JUnit XML (a testcase per test; a load run: per threshold)."),
        click.option("--artifacts-dir", type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
                     help="Download screenshots, console logs, Locust's report and CSV into DIR."),
    ]):  # fmt: skip
        command = option(command)
    return output_option(command)


@dataclass(frozen=True)
class WaitOptions:
    output: str
    detach: bool
    timeout_s: float | None
    junit_path: Path | None
    artifacts_dir: Path | None
    report_path: Path | None = None


def follow(gateway: Gateway, runs: list[RunKind], options: WaitOptions) -> ExitCode:
    """Wait for runs (unless detached) and write the reports asked for; the verdict's exit code."""
    if options.detach:
        return detached(runs, options.output)
    view = views.for_output(options.output)
    outcome = Watch(gateway, runs, view, options.timeout_s).wait()
    problems: list[str] = []
    if options.junit_path is not None:
        problems += junit.write(gateway, outcome, options.junit_path)
    if options.artifacts_dir is not None:
        written, missed = artifacts.download(gateway, outcome, options.artifacts_dir)
        problems += missed
        click.echo(f"{len(written)} artifact(s) in {options.artifacts_dir}", err=True)
    if options.report_path is not None:
        problems += artifacts.load_report(gateway, outcome, options.report_path)
    if github.active():
        github.annotate(outcome, sys.stdout if options.output == "text" else sys.stderr)
        github.append_summary(outcome)
    for problem in problems:
        click.echo(f"! {problem}", err=True)
    return outcome.exit_code


def detached(runs: list[RunKind], output: str) -> ExitCode:
    """--detach: the ids, for a later `testfleet runs watch`; exit 5 (still running)."""
    started = [{"kind": run.kind, "id": run.id} for run in runs]
    if output == "text":
        for run in started:
            click.echo(f"{run['kind']} run {run['id']}")
    else:
        result = {"exit_code": int(ExitCode.RUNNING), "verdict": "running", "interrupted": False,
                  "timed_out": False, "runs": started}  # fmt: skip
        (views.JsonView if output == "json" else views.NdjsonView)(sys.stdout).finished(result)
    return ExitCode.RUNNING
