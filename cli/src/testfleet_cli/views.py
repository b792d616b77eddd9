"""How a wait is shown: a live view on a terminal, one line per event otherwise, and JSON for programs.

`-o json` prints only the result on stdout and `-o ndjson` every event as it happens and then the result; both keep
the human lines, on stderr, so a CI log shows both what happened and what a program reads.
"""

from __future__ import annotations

import json
import sys
from typing import IO, Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from testfleet_cli.run_kinds import Event, RunKind, Snapshot, message_of

STATE_STYLES = {"passed": "green", "failed": "red", "error": "magenta", "stopped": "yellow", "running": "cyan"}


class View:
    """Hears about a wait: the runs, their events, the platform's hiccups, their latest looks, the result."""

    def started(self, runs: list[RunKind]) -> None:
        pass

    def event(self, event: Event) -> None:
        pass

    def notice(self, text: str) -> None:
        pass

    def looked(self, run: RunKind, snapshot: Snapshot) -> None:
        pass

    def finished(self, result: dict[str, Any]) -> None:
        pass


def describe(event: Event) -> str | None:
    """One human line for an event (None: not worth a line)."""
    name = event.get("name") or event["id"]
    if event["event"] == "state":
        why = message_of(event.get("error"))
        return f"{event['kind']} run {name} ({event['id']}): {event['state']}" + (f": {why}" if why else "")
    if event["event"] == "step":
        why = message_of(event.get("error"))
        took = f" ({event['duration_ms']} ms)" if event.get("duration_ms") is not None else ""
        return (f"  {name} #{event['index']} {event['command']} {event.get('target') or ''}".rstrip()
                + f": {event['state']}{took}" + (f": {why}" if why else ""))  # fmt: skip
    if event["event"] == "test":
        why = message_of(event.get("error"))
        flaky = " (flaky)" if event.get("flaky") else ""
        retried = "" if event.get("final") else " (will retry)"
        took = f" in {event['duration_ms'] / 1000:.1f} s" if event.get("duration_ms") is not None else ""
        return (f"  {event['suite']} / {event['test']} attempt {event['attempt']}: {event['state']}{flaky}{took}"
                + (f": {why}" if why else "") + (retried if event["state"] != "passed" else ""))  # fmt: skip
    if event["event"] == "sample":
        return (f"  {name} {(event['elapsed_ms'] or 0) / 1000:.0f}s: {event['users']} users, {event['rps']:.1f} req/s, "
                f"p95 {event['p95_ms']:.0f} ms, {event['failures']} failures")  # fmt: skip
    if event["event"] == "threshold":
        verdict = "held" if event.get("passed") else "MISSED"
        return f"  {name} threshold {event['threshold']}: {event['actual']} (limit {event['limit']}) {verdict}"
    return None


def result_lines(result: dict[str, Any]) -> list[str]:
    """The result for people: each run's verdict, each failure, the exit code."""
    lines = []
    for run in result["runs"]:
        lines.append(f"{run['kind']} run {run['name']} ({run['id']}): {run['state']}" +
                     (f" ({run['counts']})" if run.get("counts") else ""))  # fmt: skip
        lines.extend(f"  {failure['state']}: {failure['title']}: {failure['message']}" for failure in run["failures"])
    lines.append(f"exit {result['exit_code']} ({result['verdict']})")
    return lines


class LineView(View):
    """One line per event, for logs and pipes (stdout when it is the output, else stderr)."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream

    def say(self, line: str) -> None:
        print(line, file=self.stream, flush=True)

    def event(self, event: Event) -> None:
        line = describe(event)
        if line is not None:
            self.say(line)

    def notice(self, text: str) -> None:
        self.say(f"! {text}")

    def finished(self, result: dict[str, Any]) -> None:
        for line in result_lines(result):
            self.say(line)


class LiveView(View):
    """A table refreshed with every look (at most a second apart) on a terminal; the result printed below it."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.live = Live(console=console, auto_refresh=False, transient=False)
        self.looks: dict[str, tuple[RunKind, Snapshot]] = {}
        self.recent: list[str] = []
        self.notes: list[str] = []

    def started(self, runs: list[RunKind]) -> None:
        self.looks = {run.id: (run, {}) for run in runs}
        self.live.start()

    def event(self, event: Event) -> None:
        if event["event"] in ("step", "test", "threshold"):
            line = describe(event)
            if line:
                self.recent = [*self.recent, line.strip()][-8:]

    def notice(self, text: str) -> None:
        self.notes = [*self.notes, text][-2:]
        self.refresh()

    def looked(self, run: RunKind, snapshot: Snapshot) -> None:
        self.looks[run.id] = (run, snapshot)
        self.refresh()

    def refresh(self) -> None:
        table = Table(box=None, show_header=True, header_style="bold")
        for column in ("run", "name", "state", "progress"):
            table.add_column(column)
        for run, snapshot in self.looks.values():
            state = str(snapshot.get("state") or "starting")
            styled = Text(state, style=STATE_STYLES.get(state, ""))
            table.add_row(f"{run.kind} {run.id[:8]}", run.name(snapshot), styled, run.counts(snapshot))
        parts: list[Any] = [table, *(Text(line, style="dim") for line in self.recent)]
        parts.extend(Text(f"! {note}", style="yellow") for note in self.notes)
        self.live.update(Group(*parts), refresh=True)

    def finished(self, result: dict[str, Any]) -> None:
        self.live.stop()
        for line in result_lines(result):
            self.console.print(line, highlight=False, markup=False)


class NdjsonView(View):
    """Every event as one JSON line as it happens, then the result as the last line."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream

    def event(self, event: Event) -> None:
        print(json.dumps(event, sort_keys=True), file=self.stream, flush=True)

    def finished(self, result: dict[str, Any]) -> None:
        print(json.dumps({"event": "result", **result}, sort_keys=True), file=self.stream, flush=True)


class JsonView(View):
    """Only the result, as one JSON document."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream

    def finished(self, result: dict[str, Any]) -> None:
        print(json.dumps(result, indent=2, sort_keys=True), file=self.stream, flush=True)


class Views(View):
    """Several views hearing the same wait."""

    def __init__(self, *views: View) -> None:
        self.views = views

    def started(self, runs: list[RunKind]) -> None:
        for view in self.views:
            view.started(runs)

    def event(self, event: Event) -> None:
        for view in self.views:
            view.event(event)

    def notice(self, text: str) -> None:
        for view in self.views:
            view.notice(text)

    def looked(self, run: RunKind, snapshot: Snapshot) -> None:
        for view in self.views:
            view.looked(run, snapshot)

    def finished(self, result: dict[str, Any]) -> None:
        for view in self.views:
            view.finished(result)


def for_output(output: str) -> View:
    """The views of `-o text|json|ndjson`: text is live on a terminal and line by line elsewhere."""
    if output == "json":
        return Views(LineView(sys.stderr), JsonView(sys.stdout))
    if output == "ndjson":
        return Views(LineView(sys.stderr), NdjsonView(sys.stdout))
    if sys.stdout.isatty():
        return LiveView(Console())
    return LineView(sys.stdout)
