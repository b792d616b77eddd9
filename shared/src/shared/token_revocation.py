"""The revocation list: ids of revoked API tokens in Redis, and the per-process snapshot requests check."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable

from redis import Redis, RedisError

from shared.errors import ServiceUnavailable, Unauthorized
from shared.names import REVOKED_TOKENS_KEY

log = logging.getLogger(__name__)

# An entry outlives its token's exp by this much before it is pruned: the console prunes by its own
# clock, and a service whose clock lags behind still accepts the token until its own clock reaches exp.
CLOCK_SKEW_S = 60


def revoke(redis: Redis, token_id: str, expires_at: int) -> None:
    """Add token_id (valid until expires_at, a unix time) to the list and prune expired entries, atomically."""
    if not isinstance(token_id, str) or not token_id:
        raise ValueError("token_id must be a non-empty string")
    pipe = redis.pipeline(transaction=True)
    pipe.zadd(REVOKED_TOKENS_KEY, {token_id: int(expires_at)})
    pipe.zremrangebyscore(REVOKED_TOKENS_KEY, "-inf", f"({int(time.time()) - CLOCK_SKEW_S}")
    pipe.execute()


def read_revoked(redis: Redis) -> frozenset[str]:
    """Return the ids of revoked tokens that have not expired yet (one round trip)."""
    # A token is valid while now < exp, so an entry scored below now can no longer matter here.
    members = redis.zrangebyscore(REVOKED_TOKENS_KEY, int(time.time()), "+inf")
    return frozenset(m.decode() if isinstance(m, bytes) else str(m) for m in members)


class RevocationList:
    """The revoked token ids as this process last read them; one per process, shared by its threads.

    The snapshot is re-read when older than refresh_s, by one thread at a time and at most once per
    refresh_s whatever the outcome, so a dead Redis is not asked by every request. While it cannot be
    read, the last snapshot serves until it is stale_limit_s old; then check() fails closed (503).
    """

    def __init__(
        self,
        redis: Redis,
        *,
        refresh_s: float = 1.0,
        stale_limit_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0 < refresh_s <= stale_limit_s:
            raise ValueError("need 0 < refresh_s <= stale_limit_s")
        self._redis = redis
        self.refresh_s = refresh_s
        self.stale_limit_s = stale_limit_s
        self._clock = clock
        self._cond = threading.Condition()
        self._ids: frozenset[str] = frozenset()
        self._read_at: float | None = None  # when the read that gave the snapshot began
        self._attempted_at: float | None = None  # when the last read, successful or not, began
        self._refreshing = False
        self._unreadable_since: float | None = None

    def check(self, token_id: str) -> None:
        """Raise Unauthorized if token_id is revoked; ServiceUnavailable if the list is unreadable for too long."""
        if token_id in self._snapshot():
            raise Unauthorized("token revoked")

    def _age(self, now: float) -> float:
        return math.inf if self._read_at is None else now - self._read_at

    def _snapshot(self) -> frozenset[str]:
        with self._cond:
            while True:
                now = self._clock()
                if self._age(now) < self.refresh_s:
                    return self._ids
                due = self._attempted_at is None or now - self._attempted_at >= self.refresh_s
                if due and not self._refreshing:
                    self._refreshing, self._attempted_at = True, now
                    break
                if self._age(now) < self.stale_limit_s:
                    return self._ids
                if not self._refreshing:
                    raise self._unavailable()
                # Too stale to serve, and another thread is reading: its outcome decides.
                self._cond.wait(self.refresh_s)
        return self._refresh(started=now)

    def _refresh(self, started: float) -> frozenset[str]:
        fetched: frozenset[str] | None = None
        error: RedisError | None = None
        try:
            fetched = read_revoked(self._redis)
        except RedisError as exc:
            error = exc
        finally:
            # Whatever happened (another exception included), the next due thread may try again.
            with self._cond:
                self._refreshing = False
                self._record(started, fetched, error)
                self._cond.notify_all()
        with self._cond:
            if self._age(self._clock()) < self.stale_limit_s:
                return self._ids
            raise self._unavailable()

    def _record(self, started: float, fetched: frozenset[str] | None, error: RedisError | None) -> None:
        if fetched is not None:
            self._ids, self._read_at = fetched, started
            if self._unreadable_since is not None:
                log.warning("revocation list readable again after %.1f s", started - self._unreadable_since)
                self._unreadable_since = None
        elif error is not None and self._unreadable_since is None:
            self._unreadable_since = started
            log.warning(
                "revocation list unreadable (%s: %s): the last snapshot serves until it is %.0f s old, "
                "then tokens with an id are refused (503)",
                error.__class__.__name__,
                error,
                self.stale_limit_s,
            )

    def _unavailable(self) -> ServiceUnavailable:
        return ServiceUnavailable(
            "the token revocation list cannot be read (Redis unreachable); tokens with an id are refused until it can",
            code="revocation_list_unavailable",
        )
