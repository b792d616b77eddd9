"""`testfleet web`: import Selenium IDE projects and run projects, suites or scripts."""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import click

from testfleet_cli.gateway import Gateway
from testfleet_cli.run_kinds import WEB, ProjectRun, RunKind, WebRun
from testfleet_cli.session import ID, connect, connection_options, fail
from testfleet_cli.waiting import WaitOptions, follow, output_option, wait_options


@click.group()
def web() -> None:
    """Selenium IDE projects (.side) and scripts."""


def read_side(path: Path) -> dict[str, Any]:
    """The .side file as JSON (exit 2 naming the file if it is not)."""
    try:
        project = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        fail(f"cannot read {path}: {error}")
    except ValueError as error:
        fail(f"{path} is not a Selenium IDE project (not JSON: {error})")
    if not isinstance(project, dict):
        fail(f"{path} is not a Selenium IDE project (not a JSON object)")
    return project


def import_side(gateway: Gateway, path: Path) -> dict[str, Any]:
    """Import the .side: update the project with the same IDE id if there is one (keeping each test's history;
    the newest, if the API made several), else create it. The platform's answer: {project, suites, scripts,
    warnings}."""
    project = read_side(path)
    side_id = project.get("id")
    if isinstance(side_id, str) and side_id:
        listed = gateway.get(f"{WEB}/projects?{urlencode({'side_id': side_id, 'limit': 500})}").get("items") or []
        found = [item for item in listed if item.get("side_id") == side_id]  # a server without the filter lists all
        if found:
            newest = max(found, key=lambda item: str(item.get("created_at") or ""))
            return gateway.put(f"{WEB}/projects/{newest['id']}", project)
    return gateway.post(f"{WEB}/projects", project, done_if_sent=True)


def report_import(imported: dict[str, Any]) -> None:
    for warning in imported.get("warnings") or []:
        text = warning.get("message") if isinstance(warning, dict) else warning
        where = f"{warning.get('field')}: " if isinstance(warning, dict) and warning.get("field") else ""
        click.echo(f"! {where}{text}", err=True)


@web.command("import")
@click.argument("side_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@connection_options
@output_option
def import_command(side_file: Path, url: str | None, token: str | None, output: str) -> None:
    """Import a Selenium IDE project; print its id. Importing the same project again updates it in place,
    so each test keeps its run history.

    \b
    Example:
      testfleet web import shop.side
    """
    gateway = connect(url, token)
    imported = import_side(gateway, side_file)
    report_import(imported)
    if output == "text":
        click.echo(imported["project"]["id"])
    else:
        click.echo(json.dumps(imported, sort_keys=True))


def parse_variables(pairs: tuple[str, ...]) -> dict[str, str]:
    variables = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="--var")
        variables[name] = value
    return variables


@web.command("run")
@click.argument("script_ids", type=ID, nargs=-1, metavar="[SCRIPT_ID]...")
@click.option("--side", "side_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Import (or update) this .side project, then run it.")  # fmt: skip
@click.option("--project", "project_id", type=ID, metavar="ID", help="Run this project.")
@click.option("--suite", help="Run only this suite of the project.")
@click.option("--filter", "name_filter", metavar="REGEX", help="Run only the project's tests whose names match.")
@click.option("--base-url", metavar="URL", help="Override the project's or scripts' base URL.")
@click.option("--var", "variables", multiple=True, metavar="KEY=VALUE", help="A starting variable (repeatable).")
@click.option("--retries", type=click.IntRange(0, 5), help="Re-run a failed test up to N more times (projects).")
@click.option("--priority", type=click.IntRange(0, 9), help="0-9, 9 the most urgent (default 5).")
@connection_options
@wait_options
def run_command(
    script_ids: tuple[str, ...],
    side_file: Path | None,
    project_id: str | None,
    suite: str | None,
    name_filter: str | None,
    base_url: str | None,
    variables: tuple[str, ...],
    retries: int | None,
    priority: int | None,
    url: str | None,
    token: str | None,
    **waiting: Any,
) -> None:
    """Run a Selenium IDE project (or one suite of it), or scripts, and wait for the verdict.

    \b
    Examples:
      testfleet web run --side shop.side --base-url http://staging:8000 --junit junit.xml
      testfleet web run --project 4f2a... --suite smoke --retries 2
      testfleet web run 9c1e... 77ab... --var user=bob --detach
    """
    chosen = [bool(side_file), bool(project_id), bool(script_ids)]
    if sum(chosen) != 1:
        raise click.UsageError("give exactly one of --side FILE, --project ID or SCRIPT_ID...")
    if script_ids and (suite or name_filter or retries is not None):
        raise click.UsageError("--suite, --filter and --retries apply to projects (--side or --project)")
    body: dict[str, Any] = {"base_url": base_url, "variables": parse_variables(variables) or None,
                            "priority": priority}  # fmt: skip
    gateway = connect(url, token)
    runs: list[RunKind]
    if script_ids:
        runs = [start_script(gateway, script_id, body) for script_id in script_ids]
    else:
        if side_file is not None:
            imported = import_side(gateway, side_file)
            report_import(imported)
            project_id = imported["project"]["id"]
        body |= {"suite": suite, "filter": name_filter, "retries": retries}
        runs = [start_project(gateway, str(project_id), body)]
    sys.exit(follow(gateway, runs, WaitOptions(**waiting)))


def without_unset(body: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in body.items() if value is not None}


def start_script(gateway: Gateway, script_id: str, body: dict[str, Any]) -> WebRun:
    """Start a run of the script; a retried start (the answer lost) names the same run (Idempotency-Key)."""
    key = f"testfleet-cli-{uuid.uuid4().hex}"
    started = gateway.post(f"{WEB}/scripts/{script_id}/run", without_unset(body), headers={"Idempotency-Key": key})
    return WebRun(started["run_id"])


def start_project(gateway: Gateway, project_id: str, body: dict[str, Any]) -> ProjectRun:
    started = gateway.post(f"{WEB}/projects/{project_id}/run", without_unset(body), done_if_sent=True)
    return ProjectRun(started["id"])
