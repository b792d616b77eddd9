"""Run one queued load run to its verdict: the plain function behind the Celery task."""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path

from redis import Redis
from sqlalchemy import update
from sqlalchemy.orm import sessionmaker

from perf_test_service.host_policy import HostNotAllowed, check_host
from perf_test_service.locust_process import LoadResult, run_load
from perf_test_service.locustfile_gen import generate_locustfile
from perf_test_service.models import Run, Scenario
from perf_test_service.scenario import Scenario as ScenarioSpec
from perf_test_service.thresholds import decide_state, evaluate_thresholds
from shared.db import utcnow
from shared.runs import ACTIVE_STATES, RunLock, RunState, stop_requested

log = logging.getLogger(__name__)
HEARTBEAT_INTERVAL_S = 5.0
LIVE_SAVE_INTERVAL_S = 1.0


def execute_run(run_id: str, *, sessions: sessionmaker, redis: Redis, settings) -> str:
    """Execute a queued run once: Locust in its own processes, live stats saved about once a second."""
    lock = RunLock(redis, run_id, ttl_s=int(HEARTBEAT_INTERVAL_S * 6))
    if not lock.acquire():
        return "skipped"  # another delivery of this run is executing it
    workdir = settings.resolved_var_dir / "perf-runs" / run_id
    try:
        with sessions() as session:
            run = session.get(Run, run_id)
            if run is None or run.state not in ACTIVE_STATES:
                return run.state if run else "skipped"
            scenario = session.get(Scenario, run.scenario_id) if run.scenario_id else None
            if stop_requested(redis, run_id):
                return _settle(sessions, run_id, RunState.stopped)
            if scenario is None:
                return _settle(sessions, run_id, RunState.error, {"code": "scenario_deleted",
                                                                  "message": "scenario deleted"})  # fmt: skip
            try:  # resolved now, not only when saved: DNS may have changed since
                check_host(scenario.host, settings.perf_allowed_hosts)
            except HostNotAllowed as exc:
                return _settle(sessions, run_id, RunState.error, {"code": "host_not_allowed", "message": str(exc)})
            run.state, run.started_at, run.attempts = RunState.running, utcnow(), run.attempts + 1
            run.heartbeat_at = utcnow()
            session.commit()
            params, host = dict(run.params), scenario.host
            source = scenario.locustfile or generate_locustfile(ScenarioSpec.model_validate(scenario.definition))
            thresholds = (scenario.definition or {}).get("thresholds")

        shutil.rmtree(workdir, ignore_errors=True)
        workdir.mkdir(parents=True)
        locustfile = workdir / "locustfile.py"
        locustfile.write_text(source)
        live = LiveRecorder(sessions, run_id, lock)
        result = run_load(
            locustfile,
            host,
            params,
            workdir,
            on_stats=live,
            should_stop=lambda: stop_requested(redis, run_id),
            external_workers=settings.perf_locust_workers == "external",
            master_bind_host=settings.perf_locust_master_bind,
            master_port=settings.perf_locust_master_port if settings.perf_locust_workers == "external" else None,
        )
        return _save_result(sessions, run_id, result, thresholds)
    finally:
        lock.release()
        shutil.rmtree(workdir, ignore_errors=True)


class LiveRecorder:
    """on_stats callback: save the live snapshot (throttled) and beat the run's heartbeat."""

    def __init__(self, sessions: sessionmaker, run_id: str, lock: RunLock):
        self.sessions, self.run_id, self.lock = sessions, run_id, lock
        self._last_save = float("-inf")
        self._last_beat = float("-inf")

    def __call__(self, snapshot: dict) -> None:
        now = time.monotonic()
        values = {}
        if now - self._last_beat >= HEARTBEAT_INTERVAL_S:
            self.lock.refresh()
            values["heartbeat_at"] = utcnow()
            self._last_beat = now
        if now - self._last_save >= LIVE_SAVE_INTERVAL_S:
            values.update(
                elapsed_ms=int(snapshot.get("elapsed_ms") or 0),
                users=int(snapshot.get("users") or 0),
                worker_count=int(snapshot.get("worker_count") or 0),
                stats=snapshot.get("stats"),
                history=snapshot.get("history"),
            )
            self._last_save = now
        if values:
            with self.sessions() as session:
                session.execute(update(Run).where(Run.id == self.run_id).values(**values))
                session.commit()


def _read_text(path: Path | None) -> str | None:
    if path and Path(path).exists():
        return Path(path).read_text(errors="replace")
    return None


def _save_result(sessions: sessionmaker, run_id: str, result: LoadResult, thresholds) -> str:
    checks = evaluate_thresholds(thresholds, result.stats) if result.outcome == "completed" else []
    state = decide_state(result.outcome, checks)
    error = result.error if state in (RunState.error, RunState.stopped) else None
    if state == RunState.failed:
        failing = [c["name"] for c in checks if not c["passed"]]
        error = {"code": "threshold_failed", "message": "thresholds not met: " + ", ".join(failing)}
    with sessions() as session:
        run = session.get(Run, run_id)
        run.state, run.finished_at, run.error = state, utcnow(), error
        run.elapsed_ms, run.users, run.worker_count = result.elapsed_ms, result.users, result.worker_count
        run.stats, run.history, run.thresholds = result.stats, result.history, checks
        run.report_html, run.stats_csv = _read_text(result.report_html), _read_text(result.stats_csv)
        session.commit()
    return state


def _settle(sessions: sessionmaker, run_id: str, state: RunState, error: dict | None = None) -> str:
    with sessions() as session:
        run = session.get(Run, run_id)
        if run is not None and run.state in ACTIVE_STATES:
            run.state, run.finished_at, run.error = state, utcnow(), error
            session.commit()
    return state


def settle_after_crash(*, sessions: sessionmaker, run_id: str, code: str, message: str,
                       state: RunState = RunState.error) -> None:  # fmt: skip
    """Settle a run the task could not finish normally (time limit, forced stop, crash)."""
    _settle(sessions, run_id, state, None if state == RunState.stopped else {"code": code, "message": message[:2000]})
