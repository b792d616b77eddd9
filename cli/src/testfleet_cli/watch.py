"""Following runs to their end: poll, tell the views what changed, stop them on Ctrl-C, read the verdict.

The verdict is read from a last GET of every run, never from what was seen on the way.
"""

from __future__ import annotations

import contextlib
import signal
import time
from dataclasses import dataclass
from typing import Any

from testfleet_cli import verdict
from testfleet_cli.gateway import DEFAULT_OUTAGE_S, ApiError, Gateway, Unreachable
from testfleet_cli.run_kinds import TERMINAL, RunKind, Snapshot
from testfleet_cli.verdict import ExitCode
from testfleet_cli.views import View

POLL_S = 0.5  # a live view is at most a second old
STOP_WAIT_S = 30.0  # after the first Ctrl-C: how long the stopped runs are waited for


@dataclass
class Outcome:
    """How a wait ended: the last look at each run, the exit code, and whether the user interrupted it."""

    runs: list[RunKind]
    snapshots: dict[str, Snapshot]
    exit_code: ExitCode
    interrupted: bool = False
    timed_out: bool = False

    def result(self) -> dict[str, Any]:
        """The result as -o json prints it (and the last -o ndjson line)."""
        runs = []
        for run in self.runs:
            snapshot = self.snapshots.get(run.id) or {}
            runs.append({
                "kind": run.kind, "id": run.id, "name": run.name(snapshot), "state": snapshot.get("state"),
                "exit_code": int(verdict.of_state(snapshot.get("state"))), "counts": run.counts(snapshot),
                "failures": [vars(failure) for failure in run.failures(snapshot)], "run": snapshot,
            })  # fmt: skip
        return {
            "exit_code": int(self.exit_code),
            "verdict": self.exit_code.name.lower(),
            "interrupted": self.interrupted,
            "timed_out": self.timed_out,
            "runs": runs,
        }


def terminate_as_interrupt(signum: int, frame: Any) -> None:  # noqa: ARG001 (a signal handler's signature)
    """SIGTERM is handled as a Ctrl-C: a CI system cancelling a job sends it."""
    raise KeyboardInterrupt


class Watch:
    """Waits for runs to end (or for timeout_s), showing them on view."""

    def __init__(self, gateway: Gateway, runs: list[RunKind], view: View, timeout_s: float | None = None) -> None:
        self.gateway = gateway
        self.runs = runs
        self.view = view
        self.deadline = time.monotonic() + timeout_s if timeout_s is not None else None
        self.snapshots: dict[str, Snapshot] = {}

    def remaining(self) -> float | None:
        return None if self.deadline is None else self.deadline - time.monotonic()

    def active(self) -> list[RunKind]:
        return [run for run in self.runs if (self.snapshots.get(run.id) or {}).get("state") not in TERMINAL]

    def look(self, run: RunKind) -> Snapshot:
        """One GET of the run; its events go to the view. A gateway outage is retried until the deadline."""
        remaining = self.remaining()
        self.gateway.outage_s = DEFAULT_OUTAGE_S if remaining is None else max(remaining, 0.1)
        snapshot = self.gateway.get(run.path)
        for event in run.events(self.snapshots.get(run.id), snapshot):
            self.view.event(event)
        self.snapshots[run.id] = snapshot
        self.view.looked(run, snapshot)
        return snapshot

    def wait(self) -> Outcome:
        """Follow every run to its end; Ctrl-C (or SIGTERM) stops them (see interrupted)."""
        previous = signal.signal(signal.SIGTERM, terminate_as_interrupt)
        self.view.started(self.runs)
        try:
            return self.follow()
        except KeyboardInterrupt:
            return self.interrupted()
        finally:
            signal.signal(signal.SIGTERM, previous)

    def follow(self) -> Outcome:
        timed_out = False
        while True:
            for run in self.active():
                try:
                    self.look(run)
                except Unreachable as error:
                    self.view.notice(f"{error}: giving up at the deadline")
                    timed_out = True
                    break
            remaining = self.remaining()
            if not self.active() or timed_out:
                break
            if remaining is not None and remaining <= 0:
                timed_out = True
                break
            time.sleep(POLL_S if remaining is None else min(POLL_S, remaining))
        return self.settle(timed_out=timed_out and bool(self.active()))

    def settle(self, *, timed_out: bool = False, interrupted: bool = False) -> Outcome:
        """The last GET of every run (the verdict), and the exit code it makes."""
        self.gateway.outage_s = 10.0
        for run in self.runs:
            try:
                self.snapshots[run.id] = self.gateway.get(run.path)
            except (ApiError, Unreachable) as error:
                self.view.notice(f"could not read {run.noun} {run.id} at the end: {error}")
        codes = [verdict.of_state((self.snapshots.get(run.id) or {}).get("state")) for run in self.runs]
        exit_code = ExitCode.INTERRUPTED if interrupted else verdict.worst(codes)
        outcome = Outcome(self.runs, self.snapshots, exit_code, interrupted=interrupted, timed_out=timed_out)
        self.view.finished(outcome.result())
        return outcome

    def interrupted(self) -> Outcome:
        """The first Ctrl-C: stop the remote runs, wait up to STOP_WAIT_S for their final state. A second one
        leaves at once. Either way the exit code is 130."""
        try:
            active = self.active()
            self.view.notice(f"interrupted: stopping {len(active)} run(s); Ctrl-C again to leave at once")
            self.gateway.outage_s = 5.0
            for run in active:
                try:
                    run.stop(self.gateway, self.snapshots.get(run.id) or self.gateway.get(run.path))
                except ApiError as error:
                    if error.status != 409:  # 409: it ended meanwhile
                        self.view.notice(f"could not stop {run.noun} {run.id}: {error}")
                except Unreachable as error:
                    self.view.notice(f"could not stop {run.noun} {run.id}: {error}")
            self.deadline = time.monotonic() + STOP_WAIT_S
            while self.active() and time.monotonic() < self.deadline:
                for run in self.active():
                    with contextlib.suppress(ApiError, Unreachable):  # the last look below says what it came to
                        self.look(run)
                time.sleep(POLL_S)
            return self.settle(interrupted=True)
        except KeyboardInterrupt:
            outcome = Outcome(self.runs, self.snapshots, ExitCode.INTERRUPTED, interrupted=True)
            self.view.finished(outcome.result())
            return outcome
