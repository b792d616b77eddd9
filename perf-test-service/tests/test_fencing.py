"""Fencing of load runs: a worker whose lock was taken stops its Locust and cannot overwrite the run."""

from __future__ import annotations

import threading
import time

import psutil
import pytest
from sqlalchemy import update

from perf_test_service.execution import execute_run
from perf_test_service.models import Run, Scenario
from shared.redis_client import redis_from_url
from shared.runs.lock import HEARTBEAT_INTERVAL_S, lock_key
from shared.runs.states import RunState
from shared.testing import wait_until

pytestmark = [pytest.mark.timeout(120), pytest.mark.slow]


def queued_run(sessions, target: str) -> str:
    definition = {
        "name": "fenced",
        "host": target,
        "wait_time_ms": {"min": 0, "max": 5},
        "requests": [{"name": "home", "path": "/", "expect_status": 200}],
    }
    with sessions() as session:
        scenario = Scenario(owner="alice", name="fenced", host=target, definition=definition)
        session.add(scenario)
        session.flush()
        params = {"user_count": 2, "spawn_rate": 2, "run_time": 60, "workers": 0}
        run = Run(
            owner="alice",
            scenario_id=scenario.id,
            scenario_name="fenced",
            state=RunState.queued,
            time_limit_s=180,
            params=params,
        )
        session.add(run)
        session.commit()
        return run.id


def our_locusts() -> list[int]:
    """Locust processes started by this test process."""
    found = []
    for child in psutil.Process().children(recursive=True):
        try:
            if "locust_entry" in " ".join(child.cmdline()) and child.status() != psutil.STATUS_ZOMBIE:
                found.append(child.pid)
        except psutil.NoSuchProcess:
            continue
    return found


@pytest.mark.parametrize("requeued", [False, True], ids=["lock-taken", "lock-taken-and-requeued"])
def test_a_load_run_that_lost_its_lock_stops_locust(app, settings, nginx_target, requeued):
    sessions, redis = app.extensions["db"].session_factory, redis_from_url(settings.redis_url)
    run_id = queued_run(sessions, nginx_target)
    outcome: dict = {}
    thread = threading.Thread(
        target=lambda: outcome.update(result=execute_run(run_id, sessions=sessions, redis=redis, settings=settings))
    )
    thread.start()
    try:

        def live_stats():
            with sessions() as session:
                return (session.get(Run, run_id).stats or {}).get("total", {}).get("requests")

        wait_until(live_stats, 60, 0.2, what="Locust to report live stats")
        assert our_locusts(), "no Locust process runs for this run"
        redis.set(lock_key(run_id), "another-host|1|0|someone-else", ex=60)
        if requeued:  # as the reaper does once the lock lapsed
            with sessions() as session:
                session.execute(update(Run).where(Run.id == run_id).values(state=RunState.queued, started_at=None))
                session.commit()
        taken_at = time.monotonic()
        thread.join(HEARTBEAT_INTERVAL_S + 20)
        assert not thread.is_alive(), "the worker kept its load running after losing the run"
        stopped_after = time.monotonic() - taken_at
        print(
            f"FIGURE fencing (perf, {'requeued' if requeued else 'lock taken'}): Locust stopped "
            f"{stopped_after:.1f}s after the run was lost"
        )
        assert stopped_after < HEARTBEAT_INTERVAL_S + 10
        wait_until(lambda: not our_locusts(), 15, 0.2, what="no Locust process left")
        with sessions() as session:
            run = session.get(Run, run_id)
            if requeued:  # the newer owner's row: no verdict, no report from the lost worker
                assert (run.state, run.error, run.report_html, run.thresholds) == (RunState.queued, None, None, None)
                assert outcome["result"].skipped_reason == "another attempt owns the run"
            else:
                assert run.state == RunState.error and run.error["code"] == "worker_lost", run.error
    finally:
        thread.join(30)
