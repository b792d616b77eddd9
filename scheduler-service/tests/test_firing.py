"""Firing schedules as their owner against a real HTTP target; once per cron slot."""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import jwt
import pytest
from sqlalchemy import update

from scheduler_service import service as scheduler
from scheduler_service.cron import next_fire_times
from scheduler_service.models import JobRun, Schedule
from shared import names
from shared.celery_factory import make_celery
from shared.config import BaseServiceSettings
from shared.testing import TEST_SECRET, service_env, wait_until

pytestmark = pytest.mark.timeout(90)

URL = "/api/v1/schedules"


def make_schedule(client, auth_header, user="alice", cron="* * * * *", **target) -> dict:
    resp = client.post(
        URL,
        json={
            "name": "every minute",
            "cron": cron,
            "timezone": "Europe/Berlin",
            "target": {"kind": "web-test", "id": "script1", "params": {"x": 1}, **target},
        },
        headers=auth_header("tester", user),
    )
    assert resp.status_code == 201, resp.json
    return resp.json


def test_trigger_starts_the_run_as_the_owner(client, auth_header, target, app):
    sch = make_schedule(client, auth_header, "alice")
    # An admin triggers it; the run still belongs to the schedule's owner.
    resp = client.post(f"{URL}/{sch['id']}/trigger", headers=auth_header("admin", "root"))
    assert resp.status_code == 202, resp.json
    assert resp.json["status"] == "started" and resp.json["run_id"] == "run-1" and resp.json["trigger"] == "manual"

    assert len(target.requests) == 1
    req = target.requests[0]
    assert req["path"] == "/api/v1/web-test/scripts/script1/run"
    assert req["json"] == {"x": 1}
    claims = jwt.decode(req["headers"]["Authorization"].split()[1], TEST_SECRET, algorithms=["HS256"])
    assert claims["sub"] == "alice" and claims["role"] == "tester"
    assert claims["exp"] - claims["iat"] <= app.extensions["settings"].schedule_token_ttl_s

    got = client.get(f"{URL}/{sch['id']}", headers=auth_header("tester", "alice")).json
    assert got["last_outcome"]["status"] == "started" and got["last_outcome"]["run_id"] == "run-1"
    assert got["last_fired_at"] is not None


def test_perf_target_url(client, auth_header, target):
    sch = make_schedule(client, auth_header, kind="perf-test", id="scn9", params={"user_count": 5})
    assert client.post(f"{URL}/{sch['id']}/trigger", headers=auth_header("tester", "alice")).status_code == 202
    assert target.requests[0]["path"] == "/api/v1/perf-test/scenarios/scn9/run"
    assert target.requests[0]["json"] == {"user_count": 5}


@pytest.mark.parametrize(
    ("status", "outcome"),
    [(404, "target_not_found"), (409, "run_active"), (422, "rejected"), (503, "error")],
)
def test_refusals_are_recorded_and_the_schedule_goes_on(client, auth_header, target, status, outcome):
    sch = make_schedule(client, auth_header)
    target.answer(status, {"error": {"code": "x", "message": f"target says {status}", "details": None}})
    resp = client.post(f"{URL}/{sch['id']}/trigger", headers=auth_header("tester", "alice"))
    assert resp.status_code == 202
    assert resp.json["status"] == outcome and resp.json["http_status"] == status
    assert resp.json["error"] == f"target says {status}"
    got = client.get(f"{URL}/{sch['id']}", headers=auth_header("tester", "alice")).json
    assert got["last_outcome"]["status"] == outcome and got["enabled"] is True


def test_every_retry_of_a_cron_firing_sends_the_same_idempotency_key(client, auth_header, session, app, target):
    sch = make_schedule(client, auth_header)
    settings = app.extensions["settings"]
    slot = datetime(2025, 10, 26, 0, 30, tzinfo=UTC)
    # The fire_schedule task's retries call this again with the same slot; the next slot is another firing.
    for fired_slot in (slot, slot, slot + timedelta(days=1)):
        scheduler.fire_schedule(
            session=session, settings=settings, schedule_id=sch["id"], trigger="cron", slot=fired_slot
        )
    assert client.post(f"{URL}/{sch['id']}/trigger", headers=auth_header("tester", "alice")).status_code == 202
    keys = [req["headers"].get("Idempotency-Key") for req in target.requests]
    assert keys == [
        f'"schedule-{sch["id"]}-2025-10-26T00:30:00Z"',
        f'"schedule-{sch["id"]}-2025-10-26T00:30:00Z"',
        f'"schedule-{sch["id"]}-2025-10-27T00:30:00Z"',
        None,  # a manual trigger is not retried
    ]


def test_unreachable_target_is_an_error_outcome(client, auth_header, target):
    sch = make_schedule(client, auth_header)
    target.server.shutdown()
    target.server.server_close()
    resp = client.post(f"{URL}/{sch['id']}/trigger", headers=auth_header("tester", "alice"))
    assert resp.status_code == 202 and resp.json["status"] == "error" and resp.json["error"]


def _age(session, schedule_id, minutes: int):
    """Pretend the schedule was created (and its slots settled) minutes ago."""
    past = datetime.now(UTC) - timedelta(minutes=minutes)
    session.execute(update(Schedule).where(Schedule.id == schedule_id).values(last_slot_at=past, created_at=past))
    session.commit()


def test_a_slot_is_claimed_once_even_by_racing_evaluations(client, auth_header, session, app):
    sch = make_schedule(client, auth_header)
    _age(session, sch["id"], 3)
    now = datetime.now(UTC)
    db = app.extensions["db"]
    results, barrier = [], threading.Barrier(4)

    def evaluate():
        own = db.session_factory()
        barrier.wait(5)
        results.append(scheduler.claim_due_slots(session=own, now=now, grace_s=300))
        own.close()

    threads = [threading.Thread(target=evaluate) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    claimed = [c for r in results for c in r]
    assert len(results) == 4 and len(claimed) == 1
    assert claimed[0][0] == sch["id"] and claimed[0][1] == now.replace(second=0, microsecond=0)
    # The same minute evaluated again fires nothing; the next minute fires again.
    assert scheduler.claim_due_slots(session=session, now=now, grace_s=300) == []
    later = scheduler.claim_due_slots(session=session, now=now + timedelta(minutes=1), grace_s=300)
    assert [s for s, _ in later] == [sch["id"]]


def test_disabled_new_edited_and_stale_schedules_do_not_fire(client, auth_header, session):
    # Evaluated at an instant before every creation and edit below, so a minute boundary crossed while the test
    # runs cannot make the next slot due: the latest slot at `before` always predates them.
    before = datetime.now(UTC)
    fresh = make_schedule(client, auth_header)  # created this minute: this minute's slot predates it
    disabled = make_schedule(client, auth_header)
    _age(session, disabled["id"], 3)
    client.patch(f"{URL}/{disabled['id']}", json={"enabled": False}, headers=auth_header("tester", "alice"))
    edited = make_schedule(client, auth_header)
    _age(session, edited["id"], 3)
    client.patch(f"{URL}/{edited['id']}", json={"name": "renamed"}, headers=auth_header("tester", "alice"))
    assert scheduler.claim_due_slots(session=session, now=before, grace_s=300) == []

    hourly = make_schedule(client, auth_header, cron="0 * * * *")
    _age(session, hourly["id"], 180)
    # Half past some later hour: the minute schedules are due, the hourly slot is 30 min late.
    later = (datetime.now(UTC) + timedelta(hours=1)).replace(minute=30, second=5, microsecond=0)
    fired = {s for s, _ in scheduler.claim_due_slots(session=session, now=later, grace_s=300)}
    assert fired == {fresh["id"], edited["id"]}


def test_stale_slot_is_skipped(client, auth_header, session):
    sch = make_schedule(client, auth_header)
    _age(session, sch["id"], 30)
    # Every instant below is pinned to one whole-minute slot, never to where the clock is in its minute.
    slot = (datetime.now(UTC) + timedelta(minutes=10)).replace(second=0, microsecond=0)
    late = slot + timedelta(seconds=20)
    assert scheduler.claim_due_slots(session=session, now=late, grace_s=0) == []
    # It was claimed, so a later evaluation within grace (same slot) does not fire that old slot either.
    assert scheduler.claim_due_slots(session=session, now=late + timedelta(seconds=5), grace_s=300) == []
    # The schedule itself still fires: the next slot, within grace, does.
    fired = scheduler.claim_due_slots(session=session, now=slot + timedelta(minutes=1, seconds=5), grace_s=300)
    assert fired == [(sch["id"], slot + timedelta(minutes=1))]


# Nights of a clock change, in UTC, from before the change until after 03:xx on the new clock (see test_cron.py).
DST_NIGHTS = [
    ("Europe/Berlin", "2025-10-25T23:30:00+00:00", "2025-10-26T02:45:00+00:00"),  # 02:00-02:59 twice
    ("Europe/Berlin", "2025-03-30T00:00:00+00:00", "2025-03-30T02:00:00+00:00"),  # 02:00-02:59 never
    ("America/New_York", "2025-11-02T04:30:00+00:00", "2025-11-02T08:45:00+00:00"),  # 01:00-01:59 twice
    ("America/New_York", "2025-03-09T05:30:00+00:00", "2025-03-09T07:45:00+00:00"),  # 02:00-02:59 never
]
DST_CRONS = ["30 1 * * *", "30 2 * * *", "30 3 * * *", "*/15 * * * *"]


@pytest.mark.parametrize(("tz", "start", "end"), DST_NIGHTS)
def test_evaluations_across_a_clock_change_fire_each_wall_clock_slot_once(session, tz, start, end):
    """Two beats evaluating every minute through the night claim what next_fire_times lists, each slot once."""
    night_start, night_end = datetime.fromisoformat(start), datetime.fromisoformat(end)
    crons = {}
    for cron in DST_CRONS:
        target = {"kind": "web-test", "id": "s1"}
        row = Schedule(owner="alice", name=cron, cron=cron, timezone=tz, target=target, last_slot_at=night_start)
        session.add(row)
        session.flush()
        crons[row.id] = cron
    session.commit()

    claimed: dict[str, list[datetime]] = {schedule_id: [] for schedule_id in crons}
    minute = night_start
    while minute <= night_end:
        for beat_offset_s in (5, 35):  # the second beat ticks later in the same minute
            now = minute + timedelta(seconds=beat_offset_s)
            for schedule_id, slot in scheduler.claim_due_slots(session=session, now=now, grace_s=300):
                claimed[schedule_id].append(slot)
        minute += timedelta(minutes=1)

    zone = ZoneInfo(tz)
    for schedule_id, cron in crons.items():
        slots = claimed[schedule_id]
        listed = [t for t in next_fire_times(cron, tz, night_start, 40) if t <= night_end]
        assert slots == listed, cron
        wall_clock = [slot.astimezone(zone).strftime("%H:%M") for slot in slots]
        assert len(wall_clock) == len(set(wall_clock)), f"{cron} fired a wall-clock time twice: {wall_clock}"
    fired = {crons[schedule_id]: claimed[schedule_id] for schedule_id in crons}
    assert [slot.astimezone(zone).strftime("%H:%M%z") for slot in fired["30 2 * * *"]] == {
        "2025-10-25T23:30:00+00:00": ["02:30+0200"],
        "2025-03-30T00:00:00+00:00": ["03:00+0200"],
        "2025-11-02T04:30:00+00:00": ["02:30-0500"],
        "2025-03-09T05:30:00+00:00": ["03:00-0400"],
    }[start]


@pytest.fixture()
def maintenance_worker(start_worker, redis_url, database_url, tmp_path, app, target):
    env = service_env(redis_url, database_url, tmp_path, WEB_TEST_URL=target.url, PERF_TEST_URL=target.url)
    return start_worker("scheduler_service.worker", names.MAINTENANCE_QUEUE, env)


def test_worker_evaluations_fire_one_run_per_slot_and_record_jobs(
    client, auth_header, session, target, redis_url, maintenance_worker
):
    # A cron naming the current minute: its latest slot stays that one even if the test crosses into the next
    # minute, so "once per slot" means one firing however the two evaluations fall (Berlin is whole hours off UTC).
    minute = datetime.now(UTC).minute
    sch = make_schedule(client, auth_header, "carol", cron=f"{minute} * * * *")
    _age(session, sch["id"], 3)
    producer = make_celery("test-producer", BaseServiceSettings(redis_url=redis_url, auth_secret=TEST_SECRET))
    # Two evaluations, as two beats would send them in the same minute.
    for _ in range(2):
        producer.send_task(names.MAINTENANCE_EVALUATE_SCHEDULES)
    producer.send_task(
        names.MAINTENANCE_RECORD_JOB,
        kwargs={"job": names.JOB_REAP_STUCK_RUNS, "service": names.WEB_TEST_SERVICE, "outcome": {"reaped": 2}},
    )
    producer.send_task(
        names.MAINTENANCE_RECORD_JOB,
        kwargs={"job": names.JOB_CLEANUP_OLD_RESULTS, "service": names.PERF_TEST_SERVICE, "outcome": {"deleted": 7}},
    )
    producer.send_task(names.MAINTENANCE_RECORD_JOB, kwargs={"job": "rm -rf", "service": "x", "outcome": {}})

    def outcome():
        session.expire_all()
        return session.get(Schedule, sch["id"]).last_outcome

    recorded = wait_until(outcome, 30, what="the schedule to fire")
    assert recorded["status"] == "started" and recorded["trigger"] == "cron" and recorded["slot"]
    wait_until(lambda: session.query(JobRun).count() == 2, 30, what="two job runs")

    jobs = client.get("/api/v1/scheduler/jobs", headers=auth_header("viewer")).json
    assert jobs["total"] == 2
    assert {(j["job"], j["service"]) for j in jobs["items"]} == {
        (names.JOB_REAP_STUCK_RUNS, names.WEB_TEST_SERVICE),
        (names.JOB_CLEANUP_OLD_RESULTS, names.PERF_TEST_SERVICE),
    }
    only = client.get(f"/api/v1/scheduler/jobs?job={names.JOB_CLEANUP_OLD_RESULTS}", headers=auth_header("admin")).json
    assert only["total"] == 1 and only["items"][0]["outcome"] == {"deleted": 7}
    assert client.get("/api/v1/scheduler/jobs", headers=auth_header("tester")).status_code == 403
    assert client.get("/api/v1/scheduler/jobs?job=nope", headers=auth_header("admin")).status_code == 422

    # Both evaluations finished (not just arrived: the worker logs a line on receipt too); the slot fired once.
    log = maintenance_worker.log
    finished = re.compile(rf"Task {re.escape(names.MAINTENANCE_EVALUATE_SCHEDULES)}\[[^\]]+\] succeeded in \S+: (.*)$")

    def evaluations():
        results = [m.group(1) for line in log.read_text().splitlines() if (m := finished.search(line))]
        return results if len(results) >= 2 else None

    results = wait_until(evaluations, 20, what="both evaluations to finish")
    assert sorted(results) == sorted([repr({"fired": [sch["id"]]}), repr({"fired": []})]), results
    assert len(target.requests) == 1
    claims = jwt.decode(target.requests[0]["headers"]["Authorization"].split()[1], TEST_SECRET, algorithms=["HS256"])
    assert claims["sub"] == "carol"


def test_job_history_keeps_only_the_retention(session):
    from scheduler_service.schemas import JobReport

    old = JobRun(
        job="reap_stuck_runs", service="web-test", outcome={}, created_at=datetime.now(UTC) - timedelta(days=9)
    )
    other_service = JobRun(job="reap_stuck_runs", service="perf-test", outcome={},
                           created_at=datetime.now(UTC) - timedelta(days=9))  # fmt: skip
    session.add_all([old, other_service])
    session.commit()
    report = JobReport(job="reap_stuck_runs", service="web-test", outcome={"requeued": 0, "settled": 0})
    kept = scheduler.record_job(session=session, report=report, retention_days=7)
    remaining = {row.id for row in session.query(JobRun)}
    assert remaining == {kept.id, other_service.id}  # only this job's and service's old runs go
