"""Load runs through the API and a real Celery worker: what the Locust processes see, what survives a killed
worker, a stop while the results are being written, and the worker starting without AUTH_SECRET."""

from __future__ import annotations

import time
from pathlib import Path

import psutil
import pytest

from perf_test_service.config import PerfTestSettings
from perf_test_service.runner.containment import MARKER
from shared.testing import TEST_SECRET, wait_until

from .runner.test_containment import KINDS, escaping_locustfile, forked, kill_leftovers, processes_of, still_running

pytestmark = [pytest.mark.timeout(240), pytest.mark.slow]
API = "/api/v1/perf-test"
FORBIDDEN_ENV = ("AUTH_SECRET", "DATABASE_URL", "REDIS_URL", "FLOWER_BASIC_AUTH", "FLOWER_COOKIE_SECRET")


def declarative(target: str) -> dict:
    return {"name": "env", "host": target, "wait_time_ms": {"min": 10, "max": 20}, "requests": [{"path": "/"}]}


def create(client, headers, body) -> str:
    resp = client.post(f"{API}/scenarios", json=body, headers=headers)
    assert resp.status_code == 201, resp.json
    return resp.json["id"]


def start(client, headers, sid, params) -> str:
    resp = client.post(f"{API}/scenarios/{sid}/run", json=params, headers=headers)
    assert resp.status_code == 202, resp.json
    return resp.json["run_id"]


def status(client, headers, sid) -> dict:
    return client.get(f"{API}/scenarios/{sid}/status", headers=headers).json


def locust_processes(var_dir: Path) -> list[psutil.Process]:
    """The Locust processes of runs under var_dir, not their wrappers (confine, unshare: `-- ... locust_entry`)."""
    found = []
    for process in psutil.process_iter(["cmdline", "status"]):
        arguments = process.info["cmdline"] or []
        entry = next((i for i, argument in enumerate(arguments) if "locust_entry" in argument), None)
        if entry is None or "--" in arguments[:entry] or process.info["status"] == psutil.STATUS_ZOMBIE:
            continue
        if str(var_dir) in " ".join(arguments):
            found.append(process)
    return found


@pytest.fixture()
def secret_worker(start_worker, perf_env, app):
    """The perf worker with every secret the platform has in its environment (as `make up` gives them)."""
    env = {**perf_env, "FLOWER_BASIC_AUTH": "ops:flower-pw-31d9", "FLOWER_COOKIE_SECRET": "cookie-2b7c"}
    return start_worker("perf_test_service.worker", "perf", env)


def test_no_locust_process_of_a_real_run_has_a_secret_in_its_environment(
    client, auth_header, secret_worker, nginx_target, tmp_path
):
    alice = auth_header("tester", "alice")
    sid = create(client, alice, declarative(nginx_target))
    start(client, alice, sid, {"user_count": 2, "spawn_rate": 2, "run_time": "30s", "workers": 2})
    wait_until(lambda: len(locust_processes(tmp_path)) == 3, 60, 0.2, what="a master and two Locust workers")
    wait_until(lambda: (status(client, alice, sid).get("stats") or {}).get("total", {}).get("requests"), 60, 0.2,
               what="live requests")  # fmt: skip
    checked = 0
    for process in locust_processes(tmp_path):
        raw = Path(f"/proc/{process.pid}/environ").read_bytes()
        env = dict(item.split(b"=", 1) for item in raw.split(b"\0") if b"=" in item)
        names = {name.decode() for name in env}
        assert not names & set(FORBIDDEN_ENV), (process.pid, names)
        assert not [n for n in names if n.startswith("FLOWER_")]
        assert TEST_SECRET.encode() not in raw and b"flower-pw" not in raw and b"redis://" not in raw
        assert MARKER in names  # the run's marker, which containment relies on
        checked += 1
    assert client.post(f"{API}/scenarios/{sid}/stop", headers=alice).status_code == 202
    print(f"FIGURE scrubbed env: {checked} Locust processes (master + 2 workers) of a real run, none with "
          f"{', '.join(FORBIDDEN_ENV)}")  # fmt: skip


def test_a_killed_worker_leaves_no_process_the_locustfile_forked(
    client, auth_header, start_worker, perf_env, app, nginx_target, tmp_path
):
    admin = auth_header("admin", "root")
    locustfile, token = escaping_locustfile(tmp_path)
    body = {"name": "escaping", "host": nginx_target, "locustfile": locustfile.read_text()}
    sid = create(client, admin, body)
    kill_leftovers(token)  # the save-time check imported it too (its namespace took what it forked along)
    worker = start_worker("perf_test_service.worker", "perf", perf_env)
    start(client, admin, sid, {"user_count": 1, "run_time": "5m"})
    wait_until(lambda: set(forked(token)) == KINDS, 60, 0.2, what="the escapees")
    escapees = processes_of([pid for pid_list in forked(token).values() for pid in pid_list])
    try:
        killed_at = time.monotonic()
        worker.kill()  # SIGKILL of the Celery worker and its pool child; no worker starts after it (no sweep)
        wait_until(lambda: not forked(token) and not still_running(escapees), 15, 0.05,
                   what="every escapee to die with the worker")  # fmt: skip
        gone_after = time.monotonic() - killed_at
        print(f"FIGURE containment (worker SIGKILL): forked child, setsid daemon and setsid daemon with a cleared "
              f"environment all gone {gone_after:.2f}s after the kill, no new worker started")  # fmt: skip
    finally:
        kill_leftovers(token)


# A locustfile whose end holds in the middle of writing the results until the test says so (a file it waits for).
HOLDING_LOCUSTFILE = """
import os
import time

from locust import FastHttpUser, constant, events, task


@events.test_stop.add_listener
def hold_while_collecting(**_kwargs):
    open("collecting", "w").close()
    deadline = time.monotonic() + 60  # the test releases it within seconds; never hold a worker for ever
    while not os.path.exists({release!r}) and time.monotonic() < deadline:
        time.sleep(0.05)


class Visitor(FastHttpUser):
    wait_time = constant(0.05)

    @task
    def home(self):
        self.client.get("/")
"""


def test_a_stop_while_the_results_are_written_keeps_report_and_csv(
    client, auth_header, start_worker, perf_env, app, nginx_target, tmp_path
):
    release = tmp_path / "release"
    admin = auth_header("admin", "root")
    sid = create(client, admin, {"name": "hold", "host": nginx_target,
                                 "locustfile": HOLDING_LOCUSTFILE.format(release=str(release))})  # fmt: skip
    worker = start_worker("perf_test_service.worker", "perf", perf_env)
    run_id = start(client, admin, sid, {"user_count": 2, "run_time": 2})
    collecting = tmp_path / "perf-runs" / run_id / "collecting"
    wait_until(collecting.exists, 60, 0.05, what="Locust to be writing its results")
    # The API raises the flag, waits 3 s for the run to settle, then interrupts the task (SIGUSR1).
    assert client.post(f"{API}/scenarios/{sid}/stop", headers=admin).status_code == 202

    def interrupt_arrived():
        held = "interrupt held until its results are saved" in worker.log.read_text(errors="replace")
        return held or status(client, admin, sid)["state"] not in ("queued", "running")

    wait_until(interrupt_arrived, 30, 0.1, what="the stop's interrupt to reach the task")
    release.touch()
    final = wait_until(lambda: (s := status(client, admin, sid))["state"] not in ("queued", "running") and s, 60, 0.2,
                       what="the run to settle")  # fmt: skip
    assert final.get("report_url") and final.get("stats_csv_url"), final
    assert final["state"] in ("passed", "stopped"), final
    report = client.get(final["report_url"], headers=admin)
    assert report.status_code == 200 and b"history" in report.data
    assert b"Aggregated" in client.get(final["stats_csv_url"], headers=admin).data


def test_the_worker_starts_without_auth_secret_and_the_api_refuses_to(start_worker, perf_env, app, monkeypatch):
    env = {name: value for name, value in perf_env.items() if name != "AUTH_SECRET"}
    monkeypatch.delenv("AUTH_SECRET", raising=False)
    assert env["ENVIRONMENT"] == "test"
    worker = start_worker("perf_test_service.worker", "perf", env)  # waits until it is ready
    assert worker.running()
    with pytest.raises(ValueError, match="AUTH_SECRET must be set outside development"):
        PerfTestSettings(environment="test", redis_url=env["REDIS_URL"], var_dir=env["VAR_DIR"])
