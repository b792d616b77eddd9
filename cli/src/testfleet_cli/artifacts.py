"""Downloading what runs left: screenshots and console logs of web tests, Locust's HTML report and CSV."""

from __future__ import annotations

import re
from pathlib import Path

from testfleet_cli.gateway import ApiError, Gateway, Unreachable
from testfleet_cli.run_kinds import WEB, LoadRun, ProjectRun, RunKind, Snapshot, WebRun
from testfleet_cli.watch import Outcome


def safe(name: object, fallback: str = "item") -> str:
    """A file or folder name made of the name's letters, digits, '.', '-' and '_' only: a test called
    '../../etc' or 'a/b' stays inside the artifacts folder."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", str(name or "")).strip("._")[:80]
    return cleaned or fallback


def web_run_artifacts(gateway: Gateway, run_id: str, folder: Path) -> list[Path]:
    written = []
    for item in gateway.get(f"{WEB}/runs/{run_id}/artifacts").get("items") or []:
        destination = folder / safe(item.get("name"))
        gateway.download(str(item["url"]), destination)
        written.append(destination)
    return written


def of_run(gateway: Gateway, run: RunKind, snapshot: Snapshot, directory: Path) -> list[Path]:
    """Download the run's artifacts under directory/<name>-<id>/; the files written."""
    folder = directory / f"{safe(run.name(snapshot), run.kind)}-{run.id[:8]}"
    if isinstance(run, WebRun):
        return web_run_artifacts(gateway, run.id, folder)
    written: list[Path] = []
    if isinstance(run, ProjectRun):
        for suite in snapshot.get("suites") or []:
            for test in suite.get("tests") or []:
                for attempt in test.get("attempts") or []:
                    where = folder / safe(suite.get("name"), "suite") / safe(test.get("name"), "test")
                    written += web_run_artifacts(
                        gateway, attempt["run_id"], where / f"attempt-{attempt.get('attempt')}"
                    )
    elif isinstance(run, LoadRun):
        for key, name in (("report_url", "report.html"), ("stats_csv_url", "stats.csv")):
            if snapshot.get(key):
                gateway.download(str(snapshot[key]), folder / name)
                written.append(folder / name)
    return written


def download(gateway: Gateway, outcome: Outcome, directory: Path) -> tuple[list[Path], list[str]]:
    """Every run's artifacts under directory: the files written, and the problems met."""
    written: list[Path] = []
    problems = []
    for run in outcome.runs:
        try:
            written += of_run(gateway, run, outcome.snapshots.get(run.id) or {}, directory)
        except (ApiError, Unreachable, OSError) as error:
            problems.append(f"artifacts of {run.noun} {run.id}: {error}")
    return written, problems


def load_report(gateway: Gateway, outcome: Outcome, path: Path) -> list[str]:
    """Save the (one) load run's HTML report to path; the problems met."""
    for run in outcome.runs:
        snapshot = outcome.snapshots.get(run.id) or {}
        if isinstance(run, LoadRun):
            if not snapshot.get("report_url"):
                return [f"load run {run.id} has no report ({snapshot.get('state')})"]
            try:
                gateway.download(str(snapshot["report_url"]), path)
            except (ApiError, Unreachable, OSError) as error:
                return [f"report of load run {run.id}: {error}"]
            return []
    return ["--report needs a load run"]
