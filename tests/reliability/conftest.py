"""Reliability suites run against the whole platform, started as a user starts it.

The platform uses a Redis of the test's own (AOF on), so tests can stop and restart it. It asks for a password,
as deploy/ makes Redis do: every client of the platform must pass it, and test code, which never gets it, is refused.
"""

from __future__ import annotations

import secrets

import pytest

from shared.redis_client import redis_from_url
from shared.testing import TEST_ADMIN_PASSWORD, RedisServer
from tests.harness import Platform


@pytest.fixture(scope="session")
def durable_redis(tmp_path_factory):
    server = RedisServer(tmp_path_factory.mktemp("redis-aof"), appendonly=True, password=secrets.token_hex(16))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def platform(tmp_path_factory, durable_redis):
    """One `make up` for the whole reliability session (about 25 s to start)."""
    base = tmp_path_factory.mktemp("platform")
    extra = {"WEB_WORKER_CONCURRENCY": "2", "PERF_WORKER_CONCURRENCY": "2"}
    running = Platform(base / "var", durable_redis.url, {**extra, "TESTFLEET_ADMIN_PASSWORD": TEST_ADMIN_PASSWORD})
    running.start()
    yield running
    left = running.stop()
    assert not left, f"processes left after Ctrl-C: {left}"


@pytest.fixture()
def redis_client(durable_redis):
    return redis_from_url(durable_redis.url)
