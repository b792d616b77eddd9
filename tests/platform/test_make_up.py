"""`make up` as a user runs it: every process, ready through the gateway, Ctrl-C leaves nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests

from shared.testing import free_port, wait_until

pytestmark = [pytest.mark.timeout(400), pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]


def descendants(pid: int) -> set[int]:
    """Every live process below pid, found through /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, stack = set(), [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found.add(child)
            stack.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_make_up_serves_everything_and_stops_clean(tmp_path):
    ports = {name: str(free_port()) for name in ("GATEWAY_PORT", "WEB_TEST_PORT", "PERF_TEST_PORT", "SCHEDULER_PORT",
                                                 "FLOWER_PORT")}  # fmt: skip
    env = {
        **os.environ,
        **ports,
        "VAR_DIR": str(tmp_path / "var"),
        # Nothing answers on this port, so `make up` starts a redis-server of its own.
        "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
        "FLOWER_BASIC_AUTH": "ops:pw",
        "WEB_WORKER_CONCURRENCY": "1",
        "PERF_WORKER_CONCURRENCY": "1",
    }
    log = open(tmp_path / "up.log", "wb")  # noqa: SIM115 (closed in finally)
    up = subprocess.Popen(["make", "-s", "up"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                          start_new_session=True)  # fmt: skip
    gw = f"http://127.0.0.1:{ports['GATEWAY_PORT']}"
    procs: set[int] = set()
    try:

        def all_ready():
            procs.update(descendants(up.pid))
            assert up.poll() is None, (tmp_path / "up.log").read_text()[-3000:]
            codes = [requests.get(f"{gw}/api/v1/{s}/ready", timeout=5).status_code
                     for s in ("web-test", "perf-test", "scheduler")]  # fmt: skip
            return codes == [200, 200, 200]

        started = time.monotonic()
        wait_until(all_ready, 240, 1.0, what="all three services ready through the gateway")
        print(f"make up ready in {time.monotonic() - started:.1f}s")

        def flower_sees_all_queues():
            workers = requests.get(f"{gw}/flower/api/workers", auth=("ops", "pw"), timeout=10).json()
            queues = {q["name"] for w in workers.values() for q in (w.get("active_queues") or [])}
            return {"web", "perf", "maintenance"} <= queues

        assert requests.get(f"{gw}/flower/api/workers", timeout=10).status_code == 401
        wait_until(flower_sees_all_queues, 60, 1.0, what="Flower listing web, perf and maintenance workers")
        procs.update(descendants(up.pid))
        assert len(procs) >= 10  # make, up.sh/honcho and every process of the Procfile
    finally:
        os.killpg(up.pid, signal.SIGINT)  # what Ctrl-C in the terminal does
        try:
            up.wait(60)
        finally:
            log.close()
    wait_until(lambda: not [p for p in procs if alive(p)], 30, 0.5, what="every process to exit")
