"""Failed logins slow down: after a few free failures, each attempt waits twice as long as the last."""

from __future__ import annotations

import logging
import math
import time

from redis import Redis

from shared import names
from shared.errors import TooManyRequests

log = logging.getLogger(__name__)


class LoginThrottle:
    """Counts failures per account name and per client address in Redis (shared by every console process)."""

    def __init__(self, redis: Redis, *, free_failures: int, max_delay_s: int, window_s: int):
        self.redis = redis
        self.free_failures = free_failures
        self.max_delay_s = max_delay_s
        self.window_s = window_s

    def check(self, username: str, address: str) -> None:
        """Raise 429 while either the name or the address must still wait."""
        wait = max(self._wait_s(key) for key in self._keys(username, address))
        if wait > 0:
            raise TooManyRequests(
                f"too many failed logins; try again in {math.ceil(wait)} s", retry_after_s=math.ceil(wait)
            )

    def failed(self, username: str, address: str) -> None:
        """Count a failed attempt against both the name and the address, and log it."""
        now = time.time()
        with self.redis.pipeline() as pipe:
            for key in self._keys(username, address):
                pipe.hincrby(key, "count", 1)
                pipe.hset(key, "last", now)
                pipe.expire(key, self.window_s)
            results = pipe.execute()
        counts = results[0::3]
        log.warning("failed login for %r from %s (%d failures for the name)", username, address, counts[0])

    def succeeded(self, username: str) -> None:
        """Forget the name's failures (the address's stay: one address guessing many names keeps waiting)."""
        self.redis.delete(names.LOGIN_FAILURES_KEY.format(who=f"name:{username}"))

    def _keys(self, username: str, address: str) -> tuple[str, str]:
        return (
            names.LOGIN_FAILURES_KEY.format(who=f"name:{username}"),
            names.LOGIN_FAILURES_KEY.format(who=f"address:{address}"),
        )

    def _wait_s(self, key: str) -> float:
        count, last = self.redis.hmget(key, "count", "last")
        if count is None or last is None or int(count) < self.free_failures:
            return 0.0
        delay = min(self.max_delay_s, 2 ** (int(count) - self.free_failures))
        return float(last) + delay - time.time()
