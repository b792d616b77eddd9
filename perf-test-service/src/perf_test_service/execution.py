"""Execute one queued load run to its verdict: the plain function behind the Celery task."""

from __future__ import annotations

import logging
import shutil
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from redis import Redis
from sqlalchemy.orm import sessionmaker

from perf_test_service.models import RUNS, Run, Scenario
from perf_test_service.runner.locustfile import generate_locustfile
from perf_test_service.runner.process import LoadResult, run_load
from perf_test_service.runner.thresholds import decide_state, evaluate_thresholds
from perf_test_service.scenario import Scenario as ScenarioSpec
from shared.host_policy import HostNotAllowed
from shared.runs.states import RunState
from shared.runs.worker import LOCK_WAIT_S, Attempt, Outcome, Refuse, run_attempt

log = logging.getLogger(__name__)
LIVE_SAVE_INTERVAL_S = 1.0


@dataclass
class ClaimedLoad:
    """What a load run needs once claimed: its parameters, target, Locust source and thresholds, and the
    addresses the host policy passed at claim (the only ones Locust may connect to)."""

    params: dict[str, Any]
    host: str
    source: str
    thresholds: dict[str, Any] | None
    addresses: list[str] = field(default_factory=list)


def execute_run(
    run_id: str, *, sessions: sessionmaker, redis: Redis, settings, lock_wait_s: float = LOCK_WAIT_S
) -> Outcome:
    """Execute a queued run once: Locust in its own processes, live stats saved about once a second."""

    def prepare(run: Run, scenario: Scenario) -> ClaimedLoad:
        try:  # resolved now, once: Locust is pinned to these addresses, so a later DNS answer cannot move it
            addresses = settings.host_policy.check_url(scenario.host)
        except HostNotAllowed as exc:
            raise Refuse(RunState.error, {"code": "host_not_allowed", "message": str(exc)}) from None
        source = scenario.locustfile or generate_locustfile(ScenarioSpec.model_validate(scenario.definition))
        thresholds = (scenario.definition or {}).get("thresholds")
        return ClaimedLoad(dict(run.params), scenario.host, source, thresholds, [str(a) for a in addresses])

    with run_attempt(RUNS, run_id, sessions=sessions, redis=redis, prepare=prepare, lock_wait_s=lock_wait_s) as attempt:
        if attempt.refused or attempt.claimed is None:
            return attempt.outcome or Outcome("skipped")
        claimed = attempt.claimed
        workdir = settings.resolved_var_dir / "perf-runs" / run_id
        shutil.rmtree(workdir, ignore_errors=True)
        workdir.mkdir(parents=True)
        try:
            locustfile = workdir / "locustfile.py"
            locustfile.write_text(claimed.source)
            external = settings.perf_locust_workers == "external"
            with ResultsGuard(run_id) as guard:
                result = run_load(
                    locustfile,
                    claimed.host,
                    claimed.params,
                    workdir,
                    on_stats=LiveRecorder(attempt),
                    should_stop=attempt.should_stop,
                    external_workers=external,
                    master_bind_host=settings.perf_locust_master_bind,
                    master_port=settings.perf_locust_master_port if external else None,
                    pinned_addresses=claimed.addresses,
                    on_ending=guard.hold,
                )
                return finish(attempt, result, claimed.thresholds)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
    return attempt.outcome or Outcome("skipped")  # settled by the crash guard (a stop that interrupted the task)


class ResultsGuard:
    """Once the load starts to end, hold SIGUSR1 until the run is settled with its report and CSV.

    SIGUSR1 is how the API escalates a stop the run has not settled within a few seconds (shared/runs/api.py) and
    how Celery raises the soft time limit: either one, landing while Locust writes its results or while they are
    saved, would settle the run `stopped` without them. The stop itself is already under way by then (the flag
    was seen), and the hard time limit still bounds the task. Only the main thread can swap signal handlers: a
    run executed in another thread (tests) is not guarded.
    """

    def __init__(self, run_id: str):
        self.run_id = run_id
        self._previous: Any = None
        self._held = False

    def __enter__(self) -> ResultsGuard:
        return self

    def hold(self) -> None:
        if self._held or threading.current_thread() is not threading.main_thread():
            return
        self._previous = signal.signal(signal.SIGUSR1, self._defer)
        self._held = True

    def _defer(self, _signum, _frame) -> None:
        log.warning("run %s: interrupt held until its results are saved", self.run_id)

    def __exit__(self, *exc) -> None:
        if self._held:
            signal.signal(signal.SIGUSR1, self._previous)
            self._held = False


class LiveRecorder:
    """on_stats callback: save the live snapshot, throttled; a failed save is skipped, not retried."""

    def __init__(self, attempt: Attempt):
        self.attempt = attempt
        self._last_save = float("-inf")

    def __call__(self, snapshot: dict) -> None:
        now = time.monotonic()
        if now - self._last_save < LIVE_SAVE_INTERVAL_S:
            return
        self._last_save = now
        try:
            self.attempt.update(
                elapsed_ms=int(snapshot.get("elapsed_ms") or 0),
                users=int(snapshot.get("users") or 0),
                worker_count=int(snapshot.get("worker_count") or 0),
                stats=snapshot.get("stats"),
                history=snapshot.get("history"),
            )
        except Exception:  # the next snapshot supersedes this one; the final result is saved with retries
            log.warning("live stats of run %s not saved", self.attempt.run_id, exc_info=True)


def _read_text(path: Path | None) -> str | None:
    if path and Path(path).exists():
        return Path(path).read_text(errors="replace")
    return None


def finish(attempt: Attempt, result: LoadResult, thresholds: dict[str, Any] | None) -> Outcome:
    """Judge the load against its thresholds and settle the run with everything Locust left."""
    checks = evaluate_thresholds(thresholds, result.stats) if result.outcome == "completed" else []
    state = decide_state(result.outcome, checks)
    error = result.error if state in (RunState.error, RunState.stopped) else None
    if state == RunState.failed:
        failing = [c["name"] for c in checks if not c["passed"]]
        error = {"code": "threshold_failed", "message": "thresholds not met: " + ", ".join(failing)}
    return attempt.finish(
        state,
        error,
        elapsed_ms=result.elapsed_ms,
        users=result.users,
        worker_count=result.worker_count,
        stats=result.stats,
        history=result.history,
        thresholds=checks,
        report_html=_read_text(result.report_html),
        stats_csv=_read_text(result.stats_csv),
    )
