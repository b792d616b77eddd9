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
from perf_test_service.models import Run, Scenario
from perf_test_service.runner.locustfile import generate_locustfile
from perf_test_service.runner.process import LoadResult, run_load
from perf_test_service.runner.thresholds import decide_state, evaluate_thresholds
from perf_test_service.scenario import Scenario as ScenarioSpec
from shared.db import utcnow
from shared.run_execution import LOCK_WAIT_S, holding_run_lock, refuse_to_start, settle
from shared.runs import ACTIVE_STATES, Heartbeat, RunState, retry_db, stop_requested

log = logging.getLogger(__name__)
LIVE_SAVE_INTERVAL_S = 1.0


def execute_run(run_id: str, *, sessions: sessionmaker, redis: Redis, settings,
                lock_wait_s: float = LOCK_WAIT_S) -> str:  # fmt: skip
    """Execute a queued run once: Locust in its own processes, live stats saved about once a second.

    The run's lock is taken first (see holding_run_lock). The final save is retried through a short
    database outage.
    """
    with holding_run_lock(redis, run_id, lock_wait_s) as lock:
        if lock is None:
            return "skipped"  # another delivery of this run is executing it
        claimed = retry_db(lambda: _claim(sessions, redis, run_id, settings), f"start run {run_id}")
        if isinstance(claimed, str):
            return claimed
        params, host, source, thresholds = claimed
        workdir = settings.resolved_var_dir / "perf-runs" / run_id
        shutil.rmtree(workdir, ignore_errors=True)
        workdir.mkdir(parents=True)
        try:
            locustfile = workdir / "locustfile.py"
            locustfile.write_text(source)
            external = settings.perf_locust_workers == "external"
            with Heartbeat(sessions, Run, run_id, lock):
                result = run_load(
                    locustfile,
                    host,
                    params,
                    workdir,
                    on_stats=LiveRecorder(sessions, run_id),
                    should_stop=lambda: stop_requested(redis, run_id),
                    external_workers=external,
                    master_bind_host=settings.perf_locust_master_bind,
                    master_port=settings.perf_locust_master_port if external else None,
                )
            return retry_db(lambda: _save_result(sessions, run_id, result, thresholds), f"save result of run {run_id}")
        finally:
            shutil.rmtree(workdir, ignore_errors=True)


def _claim(sessions: sessionmaker, redis: Redis, run_id: str, settings) -> tuple | str:
    """Mark the run running (or settle it if it cannot run); one transaction, safe to repeat."""
    with sessions() as session:
        run = session.get(Run, run_id)
        if run is None or run.state not in ACTIVE_STATES:
            return run.state if run else "skipped"
        scenario = session.get(Scenario, run.scenario_id) if run.scenario_id else None
        refused = refuse_to_start(session, redis, run, scenario, "scenario_deleted")
        if refused:
            return refused
        try:  # resolved now, not only when saved: DNS may have changed since
            check_host(scenario.host, settings.perf_allowed_hosts)
        except HostNotAllowed as exc:
            return settle(session, run, RunState.error, {"code": "host_not_allowed", "message": str(exc)})
        run.state, run.started_at, run.attempts = RunState.running, utcnow(), run.attempts + 1
        run.heartbeat_at = utcnow()
        session.commit()
        params, host = dict(run.params), scenario.host
        source = scenario.locustfile or generate_locustfile(ScenarioSpec.model_validate(scenario.definition))
        thresholds = (scenario.definition or {}).get("thresholds")
        return params, host, source, thresholds


class LiveRecorder:
    """on_stats callback: save the live snapshot, throttled; a failed save is skipped, not retried."""

    def __init__(self, sessions: sessionmaker, run_id: str):
        self.sessions, self.run_id = sessions, run_id
        self._last_save = float("-inf")

    def __call__(self, snapshot: dict) -> None:
        now = time.monotonic()
        if now - self._last_save < LIVE_SAVE_INTERVAL_S:
            return
        self._last_save = now
        values = {
            "elapsed_ms": int(snapshot.get("elapsed_ms") or 0),
            "users": int(snapshot.get("users") or 0),
            "worker_count": int(snapshot.get("worker_count") or 0),
            "stats": snapshot.get("stats"),
            "history": snapshot.get("history"),
        }
        try:
            with self.sessions() as session:
                session.execute(update(Run).where(Run.id == self.run_id).values(**values))
                session.commit()
        except Exception:  # the next snapshot supersedes this one; the final result is saved with retries
            log.warning("live stats of run %s not saved", self.run_id, exc_info=True)


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
