"""`testfleet runs`: list, read, follow, stop web runs, project runs and load runs, and fetch their artifacts."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from testfleet_cli import artifacts, run_kinds
from testfleet_cli.gateway import ApiError
from testfleet_cli.run_kinds import PERF, TERMINAL, WEB
from testfleet_cli.session import ID, connect, connection_options
from testfleet_cli.verdict import ExitCode
from testfleet_cli.views import LineView, result_lines
from testfleet_cli.waiting import WaitOptions, follow, output_option, wait_options
from testfleet_cli.watch import Outcome

LISTS = {"web": f"{WEB}/runs", "project": f"{WEB}/project-runs", "load": f"{PERF}/runs"}
NAME_FIELDS = ("script_name", "project_name", "scenario_name")


@click.group()
def runs() -> None:
    """Web runs, project runs and load runs, by id."""


@runs.command("list")
@click.option("--kind", type=click.Choice(["all", *LISTS]), default="all", show_default=True)
@click.option("--state", type=click.Choice(["queued", "running", "passed", "failed", "error", "stopped"]))
@click.option("--limit", type=click.IntRange(1, 500), default=20, show_default=True, help="Per kind.")
@connection_options
@output_option
def list_command(kind: str, state: str | None, limit: int, url: str | None, token: str | None, output: str) -> None:
    """The latest runs you may see, newest first.

    \b
    Example:
      testfleet runs list --kind project --state failed --limit 5
    """
    gateway = connect(url, token)
    found: list[dict[str, Any]] = []
    for name, path in LISTS.items():
        if kind in ("all", name):
            query = f"?limit={limit}" + (f"&state={state}" if state else "")
            found += [{"kind": name, **item} for item in gateway.get(f"{path}{query}").get("items") or []]
    found.sort(key=lambda item: str(item.get("created_at") or ""), reverse=True)
    if output != "text":
        click.echo(json.dumps({"items": found}, sort_keys=True))
        return
    for item in found:
        name = next((item[field] for field in NAME_FIELDS if item.get(field)), "")
        run_id = item.get("run_id") or item.get("id")
        click.echo(f"{item.get('created_at', '')}  {item['kind']:<7}  {run_id}  {item.get('state', ''):<8} {name}")


def outcome_of(run: run_kinds.RunKind, snapshot: dict[str, Any]) -> Outcome:
    exit_code = ExitCode.PASSED if snapshot.get("state") in TERMINAL else ExitCode.RUNNING
    return Outcome([run], {run.id: snapshot}, exit_code)


@runs.command("get")
@click.argument("run_id", type=ID)
@connection_options
@output_option
def get_command(run_id: str, url: str | None, token: str | None, output: str) -> None:
    """Show a run as it is now (does not wait).

    \b
    Example:
      testfleet runs get 9f0c... -o json
    """
    gateway = connect(url, token)
    run, snapshot = run_kinds.find(gateway, run_id)
    if output == "text":
        result = outcome_of(run, snapshot).result()
        for line in result_lines(result)[:-1]:
            click.echo(line)
    else:
        click.echo(json.dumps({"kind": run.kind, "id": run.id, "run": snapshot}, sort_keys=True))


@runs.command("watch")
@click.argument("run_id", type=ID)
@click.option("--report", "report_path", type=click.Path(dir_okay=False, path_type=Path), metavar="PATH",
              help="Save a load run's HTML report to PATH.")  # fmt: skip
@connection_options
@wait_options
def watch_command(run_id: str, report_path: Path | None, url: str | None, token: str | None, **waiting: Any) -> None:
    """Follow a run until it ends; exit with its verdict.

    \b
    Example:
      testfleet runs watch 9f0c... --timeout 600 --junit junit.xml
    """
    gateway = connect(url, token)
    run, _ = run_kinds.find(gateway, run_id)
    sys.exit(follow(gateway, [run], WaitOptions(**waiting, report_path=report_path)))


@runs.command("stop")
@click.argument("run_id", type=ID)
@click.option("--timeout", "timeout_s", type=click.FloatRange(min=0), default=30, show_default=True, metavar="S",
              help="How long to wait for the run to end.")  # fmt: skip
@connection_options
@output_option
def stop_command(run_id: str, timeout_s: float, url: str | None, token: str | None, output: str) -> None:
    """Stop a run and wait for it to end: exit 0 once it has (stopped, or finished meanwhile), 5 if it has not.

    \b
    Example:
      testfleet runs stop 9f0c...
    """
    gateway = connect(url, token)
    run, snapshot = run_kinds.find(gateway, run_id)
    if snapshot.get("state") not in TERMINAL:
        try:
            run.stop(gateway, snapshot)
        except ApiError as error:
            if error.status != 409:  # 409: no active run any more, it ended meanwhile
                raise
    follow_stop = WaitOptions(output=output, detach=False, timeout_s=timeout_s, junit_path=None, artifacts_dir=None)
    ended = follow(gateway, [run], follow_stop) != ExitCode.RUNNING
    sys.exit(ExitCode.PASSED if ended else ExitCode.RUNNING)


@runs.command("artifacts")
@click.argument("run_id", type=ID)
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path), default=".",
              show_default=True, help="Where to put them (a folder per run).")  # fmt: skip
@connection_options
def artifacts_command(run_id: str, directory: Path, url: str | None, token: str | None) -> None:
    """Download a run's screenshots, console logs, Locust report and CSV.

    \b
    Example:
      testfleet runs artifacts 9f0c... --dir artifacts/
    """
    gateway = connect(url, token)
    run, snapshot = run_kinds.find(gateway, run_id)
    written, problems = artifacts.download(gateway, outcome_of(run, snapshot), directory)
    view = LineView(sys.stdout)
    for path in written:
        view.say(str(path))
    for problem in problems:
        click.echo(f"! {problem}", err=True)
    if problems:
        sys.exit(int(ExitCode.ERROR))
