"""`make up` as a user runs it: every process, ready through the gateway, Ctrl-C leaves nothing."""

from __future__ import annotations

import time

import pytest
import requests

from shared.testing import free_port, wait_until
from tests.harness import Platform

pytestmark = [pytest.mark.timeout(400), pytest.mark.slow]


def test_make_up_serves_everything_and_stops_clean(tmp_path):
    # Nothing answers on this Redis port, so `make up` starts a redis-server of its own.
    platform = Platform(tmp_path / "var", f"redis://127.0.0.1:{free_port()}/0",
                        {"WEB_WORKER_CONCURRENCY": "1", "PERF_WORKER_CONCURRENCY": "1"})  # fmt: skip
    started = time.monotonic()
    try:
        platform.start()
        print(f"make up ready in {time.monotonic() - started:.1f}s")
        gw = platform.gateway
        assert requests.get(f"{gw}/flower/api/workers", timeout=10).status_code == 401
        login = requests.get(f"{gw}/login", timeout=10)
        assert login.status_code == 200 and "Log in to TestFleet" in login.text
        # The console's URL and its first admin are printed (the development password only when it is the default).
        printed = platform.log.read_text()
        assert f"console       {gw}/  (log in as admin, password testfleet-admin" in printed, printed[-2000:]

        def flower_sees_all_queues():
            workers = requests.get(f"{gw}/flower/api/workers", auth=platform.flower_auth, timeout=10).json()
            queues = {q["name"] for w in workers.values() for q in (w.get("active_queues") or [])}
            return {"web", "perf", "maintenance"} <= queues

        wait_until(flower_sees_all_queues, 60, 1.0, what="Flower listing web, perf and maintenance workers")
        assert len(platform.processes) >= 10  # make, honcho and every process of the Procfile
    finally:
        left = platform.stop()
    assert not left, f"processes left after Ctrl-C: {left}"
