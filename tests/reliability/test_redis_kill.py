"""Redis SIGKILLed while runs are in flight: every run settles once, none lost, none executed twice.

The restart test in test_faults.py stops Redis cleanly with nobody consuming. Here the workers are busy: a
run is executing (its message unacknowledged), others wait in the queue, and Redis dies without a shutdown
save, keeping only what its AOF had fsynced (`appendfsync everysec`). Every run's script opens a URL of its
own on a counting server, so "executed twice" is counted from the outside, not read from the platform.
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter

import pytest
import requests

from shared.counting_pages import CountingPages
from shared.redis_client import redis_from_url
from shared.testing import wait_until
from tests.reliability.bounds import bound
from tests.reliability.faults_helpers import WEB, Api

pytestmark = [pytest.mark.browser]

RUNS = 24
# Every run terminal this long after the kill: the reaper's heartbeat timeout (30 s) and interval (15 s) for a
# message the AOF had not fsynced, plus the runs left to execute on 2 browser slots.
SETTLED_WITHIN_S = bound("redis_kill_settled_s")


@pytest.mark.timeout(600)
def test_redis_sigkill_with_runs_in_flight_loses_none_and_executes_none_twice(platform, durable_redis):
    api = Api(platform.gateway, platform.headers("tester", "redis-killer"))
    pages = CountingPages()
    site = pages.url
    try:
        # Each run: a page of its own (counted), then ~1.5 s of pauses so a kill lands mid-run.
        steps = [("open", "/run/{i}", ""), ("pause", "1500", ""), ("assertTitle", "Hit", "")]
        scripts = {
            i: api.web_script(site, [(c, t.format(i=i), v) for c, t, v in steps], name=f"kill-{i}") for i in range(RUNS)
        }
        runs = {i: api.web_run(script) for i, script in scripts.items()}
        broker = redis_from_url(durable_redis.url)

        def in_flight():
            running = [i for i, run in runs.items() if api.web_detail(run)["state"] == "running"]
            return running if running and broker.hlen("unacked") else None

        running = wait_until(in_flight, 120, 0.1, what="a run executing with its message unacknowledged")
        unacked = broker.hlen("unacked")
        queued = sum(1 for run in runs.values() if api.web_detail(run)["state"] == "queued")
        try:
            durable_redis.kill()
            killed = time.monotonic()
        finally:
            durable_redis.start()  # never leave the session's Redis down for the tests after this one
        print(f"FIGURE redis kill: SIGKILL with {len(running)} running, {unacked} unacked, {queued} queued; "
              f"back in {time.monotonic() - killed:.1f}s")  # fmt: skip

        def all_settled():
            details = {i: api.web_detail(run) for i, run in runs.items()}
            return details if all(d["state"] not in ("queued", "running") for d in details.values()) else None

        try:
            details = wait_until(all_settled, SETTLED_WITHIN_S, 2, what=f"all {RUNS} runs settled after the kill",
                                 ignore=(requests.RequestException,))  # fmt: skip
        finally:
            for script in scripts.values():  # a failure must not leave runs in front of the next tests'
                with contextlib.suppress(AssertionError, requests.RequestException):
                    api.call("POST", f"{WEB}/scripts/{script}/stop", (202, 409))
        took = time.monotonic() - killed
        hits = {i: pages.hits[f"/run/{i}"] for i in runs}
    finally:
        pages.stop()
    states = Counter(d["state"] for d in details.values())
    twice = sorted(i for i, n in hits.items() if n > 1)
    lost = sorted(i for i, d in details.items() if d["state"] != "passed")
    attempts = dict(Counter(d["attempts"] for d in details.values()))
    print(f"FIGURE redis kill: {RUNS} runs settled {took:.0f}s after the kill (bound {SETTLED_WITHIN_S}s): "
          f"{dict(states)}; executed twice: {len(twice)}; attempts: {attempts}")  # fmt: skip
    assert not twice, f"runs whose page was opened twice: {twice} ({[hits[i] for i in twice]})"
    assert not lost, {i: (details[i]["state"], details[i]["error"]) for i in lost}
    assert all(hits[i] == 1 for i in runs), hits
    assert took <= SETTLED_WITHIN_S
