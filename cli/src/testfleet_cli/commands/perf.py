"""`testfleet perf`: create Locust scenarios and run load tests."""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path
from typing import Any

import click
import yaml

from testfleet_cli.run_kinds import PERF, LoadRun
from testfleet_cli.session import ID, connect, connection_options, fail
from testfleet_cli.waiting import WaitOptions, follow, output_option, wait_options


@click.group()
def perf() -> None:
    """Load tests (Locust scenarios)."""


def read_scenario(path: Path) -> dict[str, Any]:
    """A scenario from a .json, .yaml or .yml file (exit 2 naming the file if it is not one)."""
    try:
        text = path.read_text(encoding="utf-8")
        scenario = yaml.safe_load(text) if path.suffix.lower() in (".yaml", ".yml") else json.loads(text)
    except (OSError, UnicodeDecodeError) as error:
        fail(f"cannot read {path}: {error}")
    except (ValueError, yaml.YAMLError) as error:
        fail(f"{path} is not a scenario: {error}")
    if not isinstance(scenario, dict):
        fail(f"{path} is not a scenario (not an object)")
    return scenario


@perf.command("create")
@click.argument("scenario_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@connection_options
@output_option
def create_command(scenario_file: Path, url: str | None, token: str | None, output: str) -> None:
    """Create a scenario from a JSON or YAML file; print its id.

    \b
    Example (home.yaml):
      name: home
      host: http://127.0.0.1:3000
      requests: [{path: /, expect_status: 200}]
      thresholds: {p95_ms: 300, max_failure_ratio: 0.01}
    then:
      testfleet perf create home.yaml
    """
    gateway = connect(url, token, "perf-test")
    scenario = read_scenario(scenario_file)
    created = gateway.post(f"{PERF}/scenarios", scenario, done_if_sent=True)
    click.echo(created["id"] if output == "text" else json.dumps(created, sort_keys=True))


@perf.command("run")
@click.argument("scenario_id", type=ID)
@click.option("--users", "user_count", type=click.IntRange(min=1), default=1, show_default=True,
              help="Simulated users.")  # fmt: skip
@click.option("--spawn-rate", type=click.FloatRange(min=0, min_open=True), help="Users started per second.")
@click.option("--run-time", default="30s", show_default=True, help="How long: 30s, 5m, 1h30m or seconds.")
@click.option("--workers", type=click.IntRange(min=0), help="Locust worker processes beside a master.")
@click.option("--priority", type=click.IntRange(0, 9), help="0-9, 9 the most urgent (default 5).")
@click.option("--report", "report_path", type=click.Path(dir_okay=False, path_type=Path), metavar="PATH",
              help="Save Locust's HTML report to PATH.")  # fmt: skip
@connection_options
@wait_options
def run_command(
    scenario_id: str,
    user_count: int,
    spawn_rate: float | None,
    run_time: str,
    workers: int | None,
    priority: int | None,
    report_path: Path | None,
    url: str | None,
    token: str | None,
    **waiting: Any,
) -> None:
    """Run a load test and wait for its verdict (its thresholds decide: a missed one is exit 1).

    \b
    Example:
      testfleet perf run 3b9d... --users 50 --spawn-rate 10 --run-time 5m --junit load.xml --report load.html
    """
    gateway = connect(url, token, "perf-test")
    body: dict[str, Any] = {"user_count": user_count, "run_time": run_time.strip()}
    if run_time.strip().isdigit():
        body["run_time"] = int(run_time)
    body |= {key: value for key, value in (("spawn_rate", spawn_rate), ("workers", workers), ("priority", priority))
             if value is not None}  # fmt: skip
    key = f"testfleet-cli-{uuid.uuid4().hex}"  # a retried start (its answer lost) names the same run
    started = gateway.post(f"{PERF}/scenarios/{scenario_id}/run", body, headers={"Idempotency-Key": key})
    sys.exit(follow(gateway, [LoadRun(started["run_id"])], WaitOptions(**waiting, report_path=report_path)))
