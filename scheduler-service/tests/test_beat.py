"""Beat: the entries, the fire-once guard, and two real beat processes sharing one Redis."""

from __future__ import annotations

import itertools
import json
import os
import signal
import sys
import time
from datetime import datetime

import pytest
from celery.schedules import crontab

from scheduler_service.beat import BEAT_HOLDER_KEY, LockedScheduler, beat_check
from scheduler_service.config import SchedulerSettings
from scheduler_service.entries import beat_schedule
from scheduler_service.lock import SLOT_HEADER
from shared import names
from shared.broker import priority_queue_keys
from shared.redis_client import redis_from_url
from shared.testing import BackgroundProcess, service_env, wait_until


def sent(redis_url: str, task: str, queue: str = names.MAINTENANCE_QUEUE) -> list[dict]:
    """Headers of every message of task waiting in queue (nobody consumes it here)."""
    client = redis_from_url(redis_url)
    out = []
    for key in priority_queue_keys(queue):
        for raw in client.lrange(key, 0, -1):
            headers = json.loads(raw)["headers"]
            if headers.get("task") == task:
                out.append(headers)
    return out


@pytest.mark.timeout(30)
def test_entries_go_to_each_service_by_name(monkeypatch):
    monkeypatch.setenv("CLEANUP_CRON", "30 3 * * *")
    monkeypatch.setenv("RESULT_RETENTION_DAYS", "7")
    monkeypatch.setenv("REAPER_HEARTBEAT_TIMEOUT_S", "90")
    monkeypatch.setenv("REAPER_INTERVAL_S", "45")
    entries = beat_schedule(SchedulerSettings())
    assert {k: v["task"] for k, v in entries.items()} == {
        names.BEAT_CLEANUP_WEB: names.WEB_CLEANUP_OLD_RESULTS,
        names.BEAT_CLEANUP_PERF: names.PERF_CLEANUP_OLD_RESULTS,
        names.BEAT_REAP_WEB: names.WEB_REAP_STUCK_RUNS,
        names.BEAT_REAP_PERF: names.PERF_REAP_STUCK_RUNS,
        names.BEAT_EVALUATE_SCHEDULES: names.MAINTENANCE_EVALUATE_SCHEDULES,
        names.BEAT_SWEEP_WEBHOOKS: names.WEBHOOKS_SWEEP,
    }
    cleanup = entries[names.BEAT_CLEANUP_WEB]
    assert cleanup["schedule"] == crontab(minute="30", hour="3") and cleanup["kwargs"] == {"retention_days": 7}
    assert entries[names.BEAT_REAP_PERF]["kwargs"] == {"heartbeat_timeout_s": 90}
    assert entries[names.BEAT_REAP_PERF]["schedule"] == 45
    # Default: cleanup at 02:00 UTC, 30 days, evaluation on every whole minute.
    defaults = beat_schedule(SchedulerSettings(_env_file=None, cleanup_cron="0 2 * * *", result_retention_days=30))
    assert defaults[names.BEAT_CLEANUP_PERF]["schedule"] == crontab(minute="0", hour="2")
    assert defaults[names.BEAT_CLEANUP_PERF]["kwargs"] == {"retention_days": 30}
    assert defaults[names.BEAT_EVALUATE_SCHEDULES]["schedule"] == crontab()
    with pytest.raises(ValueError, match="not a valid cron"):
        SchedulerSettings(cleanup_cron="99 2 * * *")


@pytest.fixture()
def settings_overrides(target):
    return {"beat_ping_interval_s": 0.3, "web_test_url": target.url}


@pytest.mark.timeout(60)
def test_guard_fires_once_when_two_beats_both_think_they_are_active(app, redis_url):
    celery_app = app.extensions["celery"]
    beats = [LockedScheduler(celery_app), LockedScheduler(celery_app)]
    for beat in beats:
        beat.lock_key = None  # no RedBeat lock: the guard alone must keep it to one firing

    for round_ in range(4):
        # Both load the same due entry before either fires it: the race the guard exists for.
        def both_due():
            loaded = [b.schedule.get(names.BEAT_PING_MAINTENANCE) for b in beats]
            return loaded if all(e is not None and e.is_due()[0] for e in loaded) else None

        entries = wait_until(both_due, 5, 0.02, what="the ping entry to be due on both beats")
        for beat, entry in zip(beats, entries, strict=True):
            beat.maybe_due(entry, producer=beat.producer)
        assert len(sent(redis_url, names.MAINTENANCE_PING)) == round_ + 1

    # Both ticking freely for a while: still one message per slot.
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        for beat in beats:
            beat.tick()
    slots = [h[SLOT_HEADER] for h in sent(redis_url, names.MAINTENANCE_PING)]
    assert len(slots) == len(set(slots)) >= 4 + 8  # 3 s at 0.3 s apart, minus the loop's lateness
    for beat in beats:
        beat.close()


def check_fails(check) -> bool:
    try:
        check()
    except RuntimeError:
        return True
    return False


def start_beat(redis_url, database_url, var_dir, **extra) -> BackgroundProcess:
    env = service_env(redis_url, database_url, var_dir, **extra)
    cmd = [sys.executable, "-m", "celery", "-A", "scheduler_service.worker", "beat",
           "-S", "scheduler_service.beat:LockedScheduler", "--loglevel", "INFO"]  # fmt: skip
    var_dir.mkdir(parents=True, exist_ok=True)
    return BackgroundProcess(cmd, env=env, cwd=var_dir).start()


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_two_real_beats_fire_once_per_tick_and_take_over(redis_url, database_url, tmp_path):
    lock_timeout, loop = 5, 1
    extra = {
        "BEAT_PING_INTERVAL_S": "1",
        "BEAT_LOCK_TIMEOUT_S": str(lock_timeout),
        "BEAT_MAX_LOOP_INTERVAL_S": str(loop),
        "REAPER_INTERVAL_S": "3600",
    }
    beats = {name: start_beat(redis_url, database_url, tmp_path / name, **extra) for name in ("a", "b")}
    client = redis_from_url(redis_url)
    try:
        holder = wait_until(lambda: client.get(BEAT_HOLDER_KEY), 30, what="a beat to take the lock").decode()
        pid = int(holder.rsplit(":", 1)[1])
        active = next(n for n, b in beats.items() if b.proc.pid == pid)
        standby = "b" if active == "a" else "a"
        wait_until(lambda: sent(redis_url, names.MAINTENANCE_PING), 10, what="the first ping")
        standby_file = tmp_path / standby / "heartbeat" / "beat"
        # The standby may still be starting (imports, first lock round): its file appears on its first round.
        wait_until(standby_file.exists, 30, 0.1, what=f"the standby beat's heartbeat file {standby_file}")

        # Count over a window of ticks with both beats running.
        window = 15
        first = len(sent(redis_url, names.MAINTENANCE_PING))
        started = time.monotonic()
        standby_ages = []
        while time.monotonic() - started < window:
            standby_ages.append(time.time() - standby_file.stat().st_mtime)
            time.sleep(0.5)  # sampling the heartbeat file's age, not waiting for an event
        headers = sent(redis_url, names.MAINTENANCE_PING)
        fired = len(headers) - first
        slots = sorted(datetime.fromisoformat(h[SLOT_HEADER]) for h in headers if h[SLOT_HEADER] != "first")
        gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(slots)]
        print(f"two beats, {window}s: {fired} firings, gaps min {min(gaps):.3f}s max {max(gaps):.3f}s")
        assert len({h[SLOT_HEADER] for h in headers}) == len(headers), "a slot fired twice"
        assert window - 2 <= fired <= window + 1, fired
        assert max(gaps) < 1.5 and min(gaps) > 0.9, gaps
        # The standby fired nothing, yet kept its liveness file fresh.
        assert "Sending due task" not in beats[standby].log.read_text()
        assert max(standby_ages) < loop + 2, standby_ages

        # kill -9 the holder: the standby takes over once the lock expires. The takeover is read from the holder
        # key, which only a beat that ticked with the lock writes (after sending what was due): a new ping alone
        # could be the old holder's, published as the kill landed.
        before = len(sent(redis_url, names.MAINTENANCE_PING))
        os.killpg(beats[active].proc.pid, signal.SIGKILL)
        killed_at = time.monotonic()
        wait_until(lambda: client.get(BEAT_HOLDER_KEY).decode() != holder, lock_timeout + loop + 5, 0.05,
                   what="the standby to take over and record itself as the holder")  # fmt: skip
        takeover = time.monotonic() - killed_at
        print(f"takeover after kill -9: {takeover:.2f}s (lock timeout {lock_timeout}s)")
        assert takeover <= lock_timeout + loop + 1
        assert client.get(BEAT_HOLDER_KEY).decode() == f"{holder.rsplit(':', 1)[0]}:{beats[standby].proc.pid}"
        assert "Sending due task" in beats[standby].log.read_text()  # the standby fired, not only the old holder
        wait_until(lambda: len(sent(redis_url, names.MAINTENANCE_PING)) >= before + 3, 10, what="steady firing")
        headers = sent(redis_url, names.MAINTENANCE_PING)
        assert len({h[SLOT_HEADER] for h in headers}) == len(headers), "a slot fired twice around the takeover"

        # /ready's beat check follows the ticks: fine now, failing once no beat ticks.
        beat_check(redis_url, 3, 1)()
        beats[standby].stop()
        wait_until(lambda: check_fails(beat_check(redis_url, 3, 1)), 10, what="the beat check to fail")
    finally:
        for beat in beats.values():
            beat.stop()


@pytest.mark.timeout(60)
def test_ready_and_status_report_the_beat(app, client, auth_header):
    ready = client.get("/api/v1/scheduler/ready")
    assert ready.status_code == 503
    beat = ready.json["error"]["details"]["checks"]["beat"]
    assert beat["ok"] is False and "no beat has ticked" in beat["error"]

    scheduler = LockedScheduler(app.extensions["celery"])
    scheduler._record_tick()  # what every tick of the active beat does
    checks = client.get("/api/v1/scheduler/ready").json["error"]["details"]["checks"]
    assert checks["beat"]["ok"] is True and checks["worker"]["ok"] is False
    status = client.get("/api/v1/scheduler/status", headers=auth_header("viewer")).json
    assert status["beat"]["ok"] is True and status["beat"]["last_tick_age_s"] < 5
    assert status["beat"]["active"] == scheduler.node
    assert "maintenance" in status["queues"]
    scheduler.close()
