"""The per-run lock and stop flag, against a real Redis."""

import time

from shared.redis_client import redis_from_url
from shared.runs.lock import RunLock
from shared.runs.states import TERMINAL_STATES, RunState
from shared.runs.stop import request_stop, stop_requested


def test_only_one_holder_at_a_time(redis_url):
    client = redis_from_url(redis_url)
    first, second = RunLock(client, "run1", ttl_s=5), RunLock(client, "run1", ttl_s=5)
    assert first.acquire()
    assert not second.acquire()
    assert not second.refresh()  # a non-holder cannot extend it
    second.release()  # nor release it
    assert not second.acquire()
    first.release()
    assert second.acquire()


def test_a_dead_holders_lock_expires(redis_url):
    client = redis_from_url(redis_url)
    assert RunLock(client, "run2", ttl_s=1).acquire()
    deadline = time.monotonic() + 5
    while not RunLock(client, "run2", ttl_s=1).acquire():
        assert time.monotonic() < deadline, "lock never expired"
        time.sleep(0.1)


def test_stop_flag(redis_url):
    client = redis_from_url(redis_url)
    assert not stop_requested(client, "run3")
    request_stop(client, "run3")
    assert stop_requested(client, "run3")


def test_terminal_states():
    assert {RunState.passed, RunState.failed, RunState.error, RunState.stopped} == TERMINAL_STATES
