"""The three kinds of run the CLI follows (a web run, a project run, a load run): where each is read, how it is
stopped, what is new since the last look, and what a report says about it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from testfleet_cli.gateway import ApiError, Gateway

WEB = "/api/v1/web-test"
PERF = "/api/v1/perf-test"
TERMINAL = frozenset({"passed", "failed", "error", "stopped"})

Snapshot = dict[str, Any]
Event = dict[str, Any]


def message_of(error: Any) -> str:
    """A run's or a step's error as one line ({"code", "message"}, a string, or nothing)."""
    if isinstance(error, dict):
        return str(error.get("message") or error.get("code") or "")
    return str(error or "")


@dataclass(frozen=True)
class Failure:
    """One thing that did not pass, for annotations and summaries: where, in which state, and why."""

    title: str
    state: str
    message: str
    url: str | None = None


class RunKind:
    """A run of one kind, by id. Subclasses say where it lives and how to read it."""

    kind = "run"
    noun = "run"

    def __init__(self, run_id: str) -> None:
        self.id = run_id

    @property
    def path(self) -> str:
        raise NotImplementedError

    def name(self, snapshot: Snapshot) -> str:
        raise NotImplementedError

    def stop(self, gateway: Gateway, snapshot: Snapshot) -> None:
        raise NotImplementedError

    def events(self, before: Snapshot | None, now: Snapshot) -> list[Event]:
        """What happened between two looks: the kind's own events (steps, tests, samples), after the run's new
        state if it is still going, before its verdict if it ended."""
        own = self.own_events(before, now)
        if before is not None and before.get("state") == now.get("state"):
            return own
        changed = self.event("state", state=now.get("state"), name=self.name(now), error=now.get("error"))
        return [*own, changed] if now.get("state") in TERMINAL else [changed, *own]

    def own_events(self, before: Snapshot | None, now: Snapshot) -> list[Event]:
        raise NotImplementedError

    def event(self, what: str, /, **fields: Any) -> Event:
        return {"event": what, "kind": self.kind, "id": self.id, **fields}

    def failures(self, snapshot: Snapshot) -> list[Failure]:
        state = snapshot.get("state")
        if state in ("passed", None):
            return []
        return [Failure(self.name(snapshot), str(state), message_of(snapshot.get("error")) or str(state))]

    def counts(self, snapshot: Snapshot) -> str:
        """A few words on where the run is (steps done, tests per state, users and RPS)."""
        raise NotImplementedError

    def junit_path(self) -> str | None:
        """Where the server renders this run as JUnit XML (None: the CLI builds it, see junit.py)."""
        return None


class WebRun(RunKind):
    kind = "web"
    noun = "web run"

    @property
    def path(self) -> str:
        return f"{WEB}/runs/{self.id}"

    def name(self, snapshot: Snapshot) -> str:
        return str(snapshot.get("script_name") or self.id)

    def stop(self, gateway: Gateway, snapshot: Snapshot) -> None:
        if snapshot.get("project_run_id"):
            gateway.post(f"{WEB}/project-runs/{snapshot['project_run_id']}/stop")
        elif snapshot.get("script_id"):
            gateway.post(f"{WEB}/scripts/{snapshot['script_id']}/stop")

    def own_events(self, before: Snapshot | None, now: Snapshot) -> list[Event]:
        found = []
        seen = len((before or {}).get("steps") or [])
        for step in (now.get("steps") or [])[seen:]:
            found.append(self.event("step", name=self.name(now), **{key: step.get(key) for key in STEP_FIELDS}))
        return found

    def failures(self, snapshot: Snapshot) -> list[Failure]:
        failed = super().failures(snapshot)
        if not failed:
            return []
        failing = [step for step in snapshot.get("steps") or [] if step.get("state") in ("failed", "error")]
        if failing:
            step = failing[0]
            where = f"command {step.get('index')} ({step.get('command')} {step.get('target') or ''}".rstrip() + ")"
            message = f"{where}: {message_of(step.get('error')) or step.get('state')}"
            return [Failure(self.name(snapshot), failed[0].state, message, step.get("screenshot_url"))]
        return failed

    def counts(self, snapshot: Snapshot) -> str:
        progress = snapshot.get("progress") or {}
        return f"{progress.get('current', 0)}/{progress.get('total', '?')} commands" if progress else ""

    def junit_path(self) -> str:
        return f"{self.path}/junit.xml"


STEP_FIELDS = ("index", "command", "target", "state", "duration_ms", "error")


class ProjectRun(RunKind):
    kind = "project"
    noun = "project run"

    @property
    def path(self) -> str:
        return f"{WEB}/project-runs/{self.id}"

    def name(self, snapshot: Snapshot) -> str:
        return str(snapshot.get("project_name") or self.id)

    def stop(self, gateway: Gateway, snapshot: Snapshot) -> None:  # noqa: ARG002 (RunKind.stop's signature)
        gateway.post(f"{self.path}/stop")

    @staticmethod
    def attempts(snapshot: Snapshot) -> dict[str, tuple[str, str, Snapshot, Snapshot]]:
        """Every finished attempt by its run id: (suite, test, test, attempt)."""
        found = {}
        for suite in snapshot.get("suites") or []:
            for test in suite.get("tests") or []:
                for attempt in test.get("attempts") or []:
                    if attempt.get("state") in TERMINAL and attempt.get("run_id"):
                        found[attempt["run_id"]] = (suite.get("name", ""), test.get("name", ""), test, attempt)
        return found

    def own_events(self, before: Snapshot | None, now: Snapshot) -> list[Event]:
        found = []
        seen = self.attempts(before or {})
        for run_id, (suite, test, whole, attempt) in self.attempts(now).items():
            if run_id in seen:
                continue
            found.append(
                self.event(
                    "test",
                    suite=suite,
                    test=test,
                    run_id=run_id,
                    attempt=attempt.get("attempt"),
                    state=attempt.get("state"),
                    flaky=bool(attempt.get("flaky")),
                    duration_ms=attempt.get("duration_ms"),
                    error=attempt.get("error"),
                    final=attempt.get("run_id") == whole.get("run_id") and whole.get("state") in TERMINAL,
                )
            )
        return found

    def failures(self, snapshot: Snapshot) -> list[Failure]:
        failed = []
        for suite in snapshot.get("suites") or []:
            for test in suite.get("tests") or []:
                if test.get("state") in ("failed", "error", "stopped"):
                    last = (test.get("attempts") or [{}])[-1]
                    title = f"{suite.get('name')} / {test.get('name')}"
                    failed.append(Failure(title, test["state"], message_of(last.get("error")) or test["state"]))
        return failed or super().failures(snapshot)

    def counts(self, snapshot: Snapshot) -> str:
        counts = snapshot.get("counts") or {}
        shown = [f"{counts[state]} {state}" for state in ("passed", "failed", "error", "stopped", "running")
                 if counts.get(state)]  # fmt: skip
        flaky = f" ({counts['flaky']} flaky)" if counts.get("flaky") else ""
        return f"{', '.join(shown) or 'no test finished'} of {snapshot.get('total', '?')}{flaky}"

    def junit_path(self) -> str:
        return f"{self.path}/junit.xml"


class LoadRun(RunKind):
    kind = "load"
    noun = "load run"

    @property
    def path(self) -> str:
        return f"{PERF}/runs/{self.id}"

    def name(self, snapshot: Snapshot) -> str:
        return str(snapshot.get("scenario_name") or self.id)

    def stop(self, gateway: Gateway, snapshot: Snapshot) -> None:
        gateway.post(f"{PERF}/scenarios/{snapshot['scenario_id']}/stop")

    def own_events(self, before: Snapshot | None, now: Snapshot) -> list[Event]:
        found = []
        if now.get("state") == "running" and (before or {}).get("elapsed_ms") != now.get("elapsed_ms"):
            found.append(self.event("sample", name=self.name(now), **load_figures(now)))
        if now.get("state") in TERMINAL and (before or {}).get("state") not in TERMINAL:
            for check in now.get("thresholds") or []:
                found.append(self.event("threshold", name=self.name(now), threshold=check.get("name"),
                                        limit=check.get("limit"), actual=check.get("actual"),
                                        passed=check.get("passed")))  # fmt: skip
        return found

    def failures(self, snapshot: Snapshot) -> list[Failure]:
        missed = [check for check in snapshot.get("thresholds") or [] if not check.get("passed")]
        if missed and snapshot.get("state") == "failed":
            return [Failure(f"{self.name(snapshot)} / {check.get('name')}", "failed",
                            f"{check.get('name')}: {check.get('actual')} (limit {check.get('limit')})")
                    for check in missed]  # fmt: skip
        return super().failures(snapshot)

    def counts(self, snapshot: Snapshot) -> str:
        figures = load_figures(snapshot)
        if not figures["requests"]:
            return ""
        return (f"{figures['users']} users, {figures['rps']:.1f} req/s, p95 {figures['p95_ms']:.0f} ms, "
                f"{figures['failures']} failures of {figures['requests']}")  # fmt: skip


def load_figures(snapshot: Snapshot) -> dict[str, Any]:
    """Users, requests, RPS, p95 and failures of a load run now (zeros before Locust reports)."""
    total = ((snapshot.get("stats") or {}).get("total")) or {}
    requests = int(total.get("requests") or 0)
    failures = int(total.get("failures") or 0)
    return {
        "elapsed_ms": snapshot.get("elapsed_ms"),
        "users": int(snapshot.get("users") or 0),
        "requests": requests,
        "failures": failures,
        "failure_ratio": failures / requests if requests else 0.0,
        "rps": float(total.get("rps") or 0.0),
        "p95_ms": float(total.get("p95_ms") or 0.0),
    }


KINDS: tuple[type[RunKind], ...] = (WebRun, ProjectRun, LoadRun)


def find(gateway: Gateway, run_id: str) -> tuple[RunKind, Snapshot]:
    """The run with this id, whichever kind it is (ApiError 404 if none the caller may see)."""
    for kind in KINDS:
        run = kind(run_id)
        try:
            return run, gateway.get(run.path)
        except ApiError as error:
            if error.status != 404:
                raise
    raise ApiError(404, "not_found", f"no web run, project run or load run {run_id} that you may see")
