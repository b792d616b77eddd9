"""Redis clients with timeouts, so no call waits forever on a dead broker."""

from __future__ import annotations

import redis


def redis_from_url(url: str, timeout_s: float = 2.0) -> redis.Redis:
    """Return a client whose connect and socket operations give up after timeout_s."""
    return redis.Redis.from_url(
        url,
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
        health_check_interval=30,
    )
