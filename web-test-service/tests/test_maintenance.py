"""Cleanup of old results and the reaper, on this service's own tables."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from shared import names
from shared.broker import priority_queue_keys
from shared.celery_factory import make_celery
from shared.db import utcnow
from shared.redis_client import redis_from_url
from shared.runs.lock import RunLock
from shared.runs.model import task_time_limits
from shared.runs.reaper import reap_stuck_runs
from shared.runs.retention import delete_runs_older_than
from shared.runs.states import RunState
from web_test_service.models import FINAL_SCREENSHOT, RUNS, ProjectRun, Run, Screenshot, Script, Step
from web_test_service.project_runs import delete_emptied_project_runs

pytestmark = pytest.mark.timeout(60)


@pytest.fixture()
def session(app):
    with app.extensions["db"].session_factory() as session:
        yield session


def add_run(session, script, *, age_days=0.0, state=RunState.passed, **fields):
    created = utcnow() - timedelta(days=age_days)
    run = Run(owner="alice", script_id=script.id, script_name=script.name, state=state, priority=5, attempts=1,
              base_url="", variables={}, created_at=created, **fields)  # fmt: skip
    session.add(run)
    session.flush()
    session.add(Step(run_id=run.id, seq=0, index=0, command="open", target="/", value="", state="failed",
                     duration_ms=1, has_screenshot=True))  # fmt: skip
    session.add(Screenshot(run_id=run.id, seq=0, png=b"\x89PNG"))
    session.commit()
    return run


def test_cleanup_deletes_exactly_the_old_finished_runs(session):
    script = Script(owner="alice", name="s", base_url="", commands=[], timeout_ms=1000, suites=[])
    session.add(script)
    session.commit()
    old = [add_run(session, script, age_days=40).id, add_run(session, script, age_days=31, state=RunState.error).id]
    young = add_run(session, script, age_days=29).id
    counts = delete_runs_older_than(session, RUNS, utcnow() - timedelta(days=30))
    assert counts == {"runs": 2, "web_steps": 2, "web_screenshots": 2}
    remaining = {r.id for r in session.query(Run)}
    assert remaining == {young} and not remaining & set(old)
    assert session.query(Step).count() == 1 and session.query(Screenshot).count() == 1
    again = delete_runs_older_than(session, RUNS, utcnow() - timedelta(days=30))
    assert again == {"runs": 0, "web_steps": 0, "web_screenshots": 0}  # idempotent


def test_cleanup_deletes_a_runs_final_screenshot_with_it(session):
    script = Script(owner="alice", name="s", base_url="", commands=[], timeout_ms=1000, suites=[])
    session.add(script)
    session.commit()
    old, young = add_run(session, script, age_days=40, state=RunState.failed), add_run(session, script, age_days=1)
    for run in (old, young):
        session.add(Screenshot(run_id=run.id, kind=FINAL_SCREENSHOT, png=b"\x89PNG final"))
    session.commit()
    counts = delete_runs_older_than(session, RUNS, utcnow() - timedelta(days=30))
    assert counts == {"runs": 1, "web_steps": 1, "web_screenshots": 2}  # its step's and its final screenshot
    left = session.query(Screenshot.run_id, Screenshot.kind).order_by(Screenshot.id).all()
    assert left == [(young.id, "step"), (young.id, FINAL_SCREENSHOT)]


def test_cleanup_deletes_a_project_run_once_its_children_are_gone(session):
    script = Script(owner="alice", name="s", base_url="", commands=[], timeout_ms=1000, suites=[])
    old, young = (ProjectRun(owner="alice", project_name="p", created_at=utcnow() - timedelta(days=d)) for d in (40, 1))
    kept_by_child = ProjectRun(owner="alice", project_name="p", created_at=utcnow() - timedelta(days=40))
    session.add_all([script, old, young, kept_by_child])
    session.commit()
    add_run(session, script, age_days=40, project_run_id=old.id)
    add_run(session, script, age_days=20, project_run_id=kept_by_child.id)  # a retry days later, still young
    cutoff = utcnow() - timedelta(days=30)
    assert delete_runs_older_than(session, RUNS, cutoff)["runs"] == 1
    assert delete_emptied_project_runs(session, cutoff) == {"project_runs": 1}
    assert {p.id for p in session.query(ProjectRun)} == {young.id, kept_by_child.id}
    assert delete_emptied_project_runs(session, cutoff) == {"project_runs": 0}


def reap(session, redis, celery):
    return reap_stuck_runs(session, redis, celery, RUNS, heartbeat_timeout_s=120)


def queued_messages(redis, queue: str) -> dict[str, dict]:
    """Headers of the messages waiting in queue, by task id."""
    headers = [json.loads(raw)["headers"] for key in priority_queue_keys(queue) for raw in redis.lrange(key, 0, -1)]
    return {h["id"]: h for h in headers}


def test_reaper_requeues_once_then_settles(session, settings):
    redis = redis_from_url(settings.redis_url)
    celery = make_celery("reaper-test", settings)
    script = Script(owner="alice", name="s", base_url="", commands=[], timeout_ms=1000, suites=[])
    session.add(script)
    session.commit()
    stale = utcnow() - timedelta(minutes=10)
    lost_once = add_run(session, script, state=RunState.running, heartbeat_at=stale, started_at=stale,
                        time_limit_s=42)  # fmt: skip
    lost_twice = Run(owner="alice", script_name="t", state=RunState.running, priority=5, attempts=2, base_url="",
                     variables={}, heartbeat_at=stale, started_at=stale)  # fmt: skip
    alive = Run(owner="alice", script_name="u", state=RunState.running, priority=5, attempts=1, base_url="",
                variables={}, heartbeat_at=stale, started_at=stale)  # fmt: skip
    fresh = Run(owner="alice", script_name="v", state=RunState.running, priority=5, attempts=1, base_url="",
                variables={}, heartbeat_at=utcnow(), started_at=stale)  # fmt: skip
    queued_lost = Run(owner="alice", script_name="w", state=RunState.queued, priority=5, attempts=0, base_url="",
                      variables={}, created_at=stale, task_id="not-in-the-broker")  # fmt: skip
    session.add_all([lost_twice, alive, fresh, queued_lost])
    session.commit()
    assert RunLock(redis, alive.id).acquire()  # a live worker holds this one

    counts = reap(session, redis, celery)
    assert counts == {"requeued": 2, "settled": 1}
    session.expire_all()
    assert session.get(Run, lost_once.id).state == RunState.queued
    assert session.get(Run, queued_lost.id).state == RunState.queued
    assert session.get(Run, queued_lost.id).task_id != "not-in-the-broker"
    settled = session.get(Run, lost_twice.id)
    assert settled.state == RunState.error and settled.error == {"code": "worker_lost", "message": "worker lost"}
    assert session.get(Run, alive.id).state == RunState.running
    assert session.get(Run, fresh.id).state == RunState.running
    # A requeued run keeps its own time limits, not the task's defaults.
    message = queued_messages(redis, names.WEB_QUEUE)[session.get(Run, lost_once.id).task_id]
    limits = task_time_limits(42)
    assert message["timelimit"] == [limits["time_limit"], limits["soft_time_limit"]]
    # A row migrated from before runs kept their limit (0) gets the service's defaults, not a 30 s soft limit.
    assert queued_messages(redis, names.WEB_QUEUE)[session.get(Run, queued_lost.id).task_id]["timelimit"] == [
        None,
        None,
    ]
    # The re-enqueued messages are in the broker, so a second pass leaves the queued runs alone.
    session.get(Run, queued_lost.id).created_at = stale
    session.commit()
    assert reap(session, redis, celery) == {"requeued": 0, "settled": 0}


def test_reaper_leaves_a_lanes_waiting_children_alone_while_the_lane_is_in_the_broker(session, settings):
    redis = redis_from_url(settings.redis_url)
    celery = make_celery("reaper-test", settings)
    script = Script(owner="alice", name="s", base_url="", commands=[], timeout_ms=1000, suites=[])
    project_run = ProjectRun(owner="alice", project_name="p")
    session.add_all([script, project_run])
    session.commit()
    stale = utcnow() - timedelta(minutes=10)
    for position in range(2):  # the second waits behind the first, in the lane's one message
        session.add(Run(owner="alice", script_id=script.id, script_name="s", state=RunState.queued, priority=5,
                        attempts=0, base_url="", variables={}, created_at=stale, task_id="the-lane",
                        project_run_id=project_run.id, suite_index=0, position=position))  # fmt: skip
    session.commit()
    celery.send_task(names.WEB_RUN_LANE, args=[project_run.id, 0, [0, 1]], task_id="the-lane")
    assert reap(session, redis, celery) == {"requeued": 0, "settled": 0}
    for key in priority_queue_keys(names.WEB_QUEUE):  # the lane's message lost: each child is sent on its own
        redis.delete(key)
    assert reap(session, redis, celery) == {"requeued": 2, "settled": 0}
