"""`testfleet schedules`: cron schedules that start web and load runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import yaml

from testfleet_cli.session import ID, connect, connection_options, fail
from testfleet_cli.verdict import ExitCode
from testfleet_cli.waiting import output_option

SCHEDULES = "/api/v1/schedules"
KINDS = {"web": "web-test", "perf": "perf-test", "web-test": "web-test", "perf-test": "perf-test"}


@click.group()
def schedules() -> None:
    """Cron schedules of scripts and scenarios."""


def show(output: str, schedule: dict[str, Any]) -> None:
    if output != "text":
        click.echo(json.dumps(schedule, sort_keys=True))
        return
    target = schedule.get("target") or {}
    upcoming = (schedule.get("next_fire_times") or ["-"])[0]
    enabled = "enabled" if schedule.get("enabled") else "disabled"
    click.echo(f"{schedule['id']}  {schedule.get('name')}  {schedule.get('cron')} ({schedule.get('timezone')})  "
               f"{target.get('kind')} {target.get('id')}  {enabled}  next {upcoming}")  # fmt: skip


@schedules.command("list")
@click.option("--limit", type=click.IntRange(1, 500), default=50, show_default=True)
@connection_options
@output_option
def list_command(limit: int, url: str | None, token: str | None, output: str) -> None:
    """The schedules you may see, newest first.

    \b
    Example:
      testfleet schedules list -o json
    """
    gateway = connect(url, token, "scheduler")
    page = gateway.get(f"{SCHEDULES}?limit={limit}")
    if output != "text":
        click.echo(json.dumps(page, sort_keys=True))
        return
    for schedule in page.get("items") or []:
        show(output, schedule)


@schedules.command("create")
@click.argument("schedule_file", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--name")
@click.option("--cron", help="Five fields or @daily, @hourly, ...")
@click.option("--timezone", default="UTC", show_default=True, help="IANA name the cron is read in.")
@click.option("--kind", type=click.Choice(sorted(KINDS)), help="What it runs: web (a script) or perf (a scenario).")
@click.option("--target", "target_id", type=ID, metavar="ID", help="The script's or scenario's id.")
@click.option("--params", metavar="JSON", help="The run's body, e.g. '{\"priority\": 7}'.")
@click.option("--disabled", is_flag=True, help="Create it disabled.")
@connection_options
@output_option
def create_command(
    schedule_file: Path | None,
    name: str | None,
    cron: str | None,
    timezone: str,
    kind: str | None,
    target_id: str | None,
    params: str | None,
    disabled: bool,
    url: str | None,
    token: str | None,
    output: str,
) -> None:
    """Create a schedule from a JSON/YAML file, or from the options.

    \b
    Examples:
      testfleet schedules create --name nightly --cron "0 3 * * *" --timezone Europe/Berlin --kind web --target 9c1e...
      testfleet schedules create nightly.yaml
    """
    if schedule_file is not None:
        try:
            body = yaml.safe_load(schedule_file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
            fail(f"cannot read {schedule_file}: {error}")
        if not isinstance(body, dict):
            fail(f"{schedule_file} is not a schedule (not an object)")
    else:
        if not (name and cron and kind and target_id):
            raise click.UsageError("give a FILE, or --name, --cron, --kind and --target")
        try:
            run_params = json.loads(params) if params else {}
        except ValueError as error:
            raise click.BadParameter(f"not JSON: {error}", param_hint="--params") from None
        body = {"name": name, "cron": cron, "timezone": timezone, "enabled": not disabled,
                "target": {"kind": KINDS[kind], "id": target_id, "params": run_params}}  # fmt: skip
    gateway = connect(url, token, "scheduler")
    show(output, gateway.post(SCHEDULES, body, done_if_sent=True))


@schedules.command("trigger")
@click.argument("schedule_id", type=ID)
@connection_options
@output_option
def trigger_command(schedule_id: str, url: str | None, token: str | None, output: str) -> None:
    """Fire a schedule now (even a disabled one); print the run it started.

    \b
    Example:
      testfleet schedules trigger 5e7d...
    """
    gateway = connect(url, token, "scheduler")
    fired = gateway.post(f"{SCHEDULES}/{schedule_id}/trigger", done_if_sent=True)
    if output != "text":
        click.echo(json.dumps(fired, sort_keys=True))
    elif fired.get("status") == "started":
        click.echo(f"started {fired.get('run_id')}")
    else:
        fail(f"the schedule fired but started nothing: {fired.get('status')} {fired.get('error') or ''}".rstrip(),
             ExitCode.ERROR)  # fmt: skip


def set_enabled(schedule_id: str, enabled: bool, url: str | None, token: str | None, output: str) -> None:
    gateway = connect(url, token, "scheduler")
    show(output, gateway.patch(f"{SCHEDULES}/{schedule_id}", {"enabled": enabled}))


@schedules.command("enable")
@click.argument("schedule_id", type=ID)
@connection_options
@output_option
def enable_command(schedule_id: str, url: str | None, token: str | None, output: str) -> None:
    """Enable a schedule.

    \b
    Example:
      testfleet schedules enable 5e7d...
    """
    set_enabled(schedule_id, True, url, token, output)


@schedules.command("disable")
@click.argument("schedule_id", type=ID)
@connection_options
@output_option
def disable_command(schedule_id: str, url: str | None, token: str | None, output: str) -> None:
    """Disable a schedule (it keeps its settings; `trigger` still fires it).

    \b
    Example:
      testfleet schedules disable 5e7d...
    """
    set_enabled(schedule_id, False, url, token, output)
