"""Fencing: a worker that lost its run can no longer write to it, and stops its browser.

The situation: a worker is cut off from Redis and the database past the heartbeat timeout, so its
lock lapses and the reaper requeues its run; a second worker claims the run. When the first one
comes back it must neither overwrite the newer attempt nor keep its browser running.
"""

from __future__ import annotations

import threading
import time

import psutil
import pytest
from sqlalchemy import func, select, update

from shared.redis_client import redis_from_url
from shared.runs.lock import HEARTBEAT_INTERVAL_S, lock_key
from shared.runs.states import RunState
from shared.runs.worker import run_attempt
from shared.testing import wait_until
from web_test_service.execution import execute_run
from web_test_service.models import RUNS, Run, Script, Step
from web_test_service.runner.driver import make_driver

pytestmark = pytest.mark.timeout(120)


def queued_run(sessions, commands: list[dict]) -> str:
    with sessions() as session:
        script = Script(owner="alice", name="fenced", base_url="", commands=commands, timeout_ms=60_000, suites=[])
        session.add(script)
        session.flush()
        run = Run(
            owner="alice",
            script_id=script.id,
            script_name=script.name,
            state=RunState.queued,
            time_limit_s=60,
            base_url="",
            variables={},
            progress_total=len(commands),
        )
        session.add(run)
        session.commit()
        return run.id


def cut_off_and_requeue(sessions, redis, run_id: str) -> None:
    """What the reaper does once the holder's lock lapsed: the run is queued again for another worker."""
    redis.delete(lock_key(run_id))
    with sessions() as session:
        session.execute(update(Run).where(Run.id == run_id).values(state=RunState.queued, started_at=None))
        session.commit()


def step(run_id: str, seq: int, command: str) -> Step:
    return Step(
        run_id=run_id,
        seq=seq,
        index=seq,
        command=command,
        target="",
        value="",
        state="passed",
        duration_ms=1,
        has_screenshot=False,
    )


def test_a_worker_that_lost_its_run_cannot_overwrite_the_newer_attempt(app, settings):
    sessions, redis = app.extensions["db"].session_factory, redis_from_url(settings.redis_url)
    run_id = queued_run(sessions, [{"command": "echo", "target": "x", "value": ""}])
    first_may_go_on, first_done = threading.Event(), threading.Event()
    seen: dict = {}

    def first_worker():
        with run_attempt(
            RUNS, run_id, sessions=sessions, redis=redis, prepare=lambda *_: "script", heartbeat_interval_s=0.2
        ) as attempt:
            seen["number"] = attempt.number
            assert attempt.record(step(run_id, 0, "first-before"), progress_current=1)
            first_may_go_on.wait(30)
            seen["stopped_by_itself"] = wait_until(
                attempt.should_stop, 10, 0.05, what="the first attempt to see it lost"
            )
            seen["recorded"] = attempt.record(step(run_id, 1, "first-after"), progress_current=99)
            seen["outcome"] = attempt.finish(RunState.passed, result={"by": "first"})
        first_done.set()

    thread = threading.Thread(target=first_worker)
    thread.start()
    wait_until(lambda: "number" in seen, 20, 0.05, what="the first attempt to claim the run")
    cut_off_and_requeue(sessions, redis, run_id)

    # A second worker claims the run as attempt 2 (the claim removes the first attempt's steps).
    with run_attempt(RUNS, run_id, sessions=sessions, redis=redis, prepare=lambda *_: "script") as second:
        assert second.number == seen["number"] + 1 == 2
        assert second.record(step(run_id, 0, "second"), progress_current=1)
        first_may_go_on.set()
        assert first_done.wait(30)
        thread.join(5)
        # The first worker noticed on its own, wrote nothing, and its verdict did not land.
        assert seen["stopped_by_itself"] and seen["recorded"] is False
        assert seen["outcome"].state == RunState.running and seen["outcome"].skipped_reason
        with sessions() as session:
            run = session.get(Run, run_id)
            assert (run.state, run.attempts, run.progress_current, run.result) == (RunState.running, 2, 1, None)
            commands = session.execute(select(Step.command).where(Step.run_id == run_id)).scalars().all()
            assert commands == ["second"]
        second.finish(RunState.passed, result={"by": "second"})
    with sessions() as session:
        run = session.get(Run, run_id)
        assert (run.state, run.result) == (RunState.passed, {"by": "second"})


def our_browsers() -> list[int]:
    """chromium/chromedriver processes started by this test process."""
    found = []
    for child in psutil.Process().children(recursive=True):
        try:
            if child.name() in ("chromium", "chromedriver", "chrome") and child.status() != psutil.STATUS_ZOMBIE:
                found.append(child.pid)
        except psutil.NoSuchProcess:  # it ended while we looked
            continue
    return found


@pytest.mark.browser
def test_a_worker_whose_lock_was_taken_stops_its_browser_and_writes_nothing(app, settings, site):
    sessions, redis = app.extensions["db"].session_factory, redis_from_url(settings.redis_url)
    commands = [{"command": "open", "target": f"{site}/login.html", "value": ""}]
    commands += [{"command": "pause", "target": "500", "value": ""}] * 60  # 30 s if nothing stops it
    run_id = queued_run(sessions, commands)
    outcome: dict = {}
    thread = threading.Thread(
        target=lambda: outcome.update(
            result=execute_run(run_id, sessions=sessions, redis=redis, driver_factory=lambda: make_driver(settings))
        )
    )
    thread.start()
    try:

        def steps_recorded() -> int:
            with sessions() as session:
                return session.execute(select(func.count()).where(Step.run_id == run_id)).scalar_one()

        wait_until(lambda: steps_recorded() >= 2, 60, 0.1, what="the run to be under way")
        assert our_browsers(), "no browser runs for this run"
        cut_off_and_requeue(sessions, redis, run_id)
        cut_at, steps_at_cut = time.monotonic(), steps_recorded()
        thread.join(HEARTBEAT_INTERVAL_S + 15)
        assert not thread.is_alive(), "the worker kept running after losing its lock"
        stopped_after = time.monotonic() - cut_at
        print(f"FIGURE fencing: the cut-off worker stopped its browser {stopped_after:.1f}s after losing the run")
        wait_until(lambda: not our_browsers(), 10, 0.2, what="the browser to be gone")
        assert outcome["result"].skipped_reason == "another attempt owns the run"
        assert steps_recorded() == steps_at_cut  # a step's row and the fence check commit together
        with sessions() as session:
            run = session.get(Run, run_id)
            # Queued for the next worker, untouched by the old one: no verdict, no error.
            assert (run.state, run.attempts, run.result, run.error) == (RunState.queued, 1, None, None)
            assert run.finished_at is None
    finally:
        thread.join(30)


@pytest.mark.browser
def test_a_worker_whose_lock_refresh_fails_stops_its_browser(app, settings, site):
    """Only the lock is gone (another holder took it): the heartbeat's refresh fails and the run stops."""
    sessions, redis = app.extensions["db"].session_factory, redis_from_url(settings.redis_url)
    commands = [{"command": "open", "target": f"{site}/login.html", "value": ""}]
    commands += [{"command": "pause", "target": "500", "value": ""}] * 60
    run_id = queued_run(sessions, commands)
    outcome: dict = {}
    thread = threading.Thread(
        target=lambda: outcome.update(
            result=execute_run(run_id, sessions=sessions, redis=redis, driver_factory=lambda: make_driver(settings))
        )
    )
    thread.start()
    try:
        wait_until(lambda: redis.get(lock_key(run_id)) and our_browsers(), 60, 0.1, what="the run to hold a browser")
        redis.set(lock_key(run_id), "another-host|1|0|someone-else", ex=60)
        taken_at = time.monotonic()
        thread.join(HEARTBEAT_INTERVAL_S + 15)
        assert not thread.is_alive(), "the worker kept running after its lock was taken"
        stopped_after = time.monotonic() - taken_at
        print(
            f"FIGURE fencing: lock taken -> browser stopped {stopped_after:.1f}s later (heartbeat every "
            f"{HEARTBEAT_INTERVAL_S:.0f}s)"
        )
        assert stopped_after < HEARTBEAT_INTERVAL_S + 10
        wait_until(lambda: not our_browsers(), 10, 0.2, what="the browser to be gone")
        assert outcome["result"].state == RunState.error
        with sessions() as session:
            run = session.get(Run, run_id)
            assert run.state == RunState.error and run.error["code"] == "worker_lost", run.error
    finally:
        thread.join(30)
