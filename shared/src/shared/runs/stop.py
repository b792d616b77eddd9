"""The stop flag: raised by the API, watched by the worker executing the run."""

from __future__ import annotations

from redis import Redis

from shared import names

STOP_FLAG_TTL_S = 24 * 3600


def request_stop(client: Redis, run_id: str) -> None:
    """Raise the stop flag a running run checks between steps."""
    client.set(names.RUN_STOP_KEY.format(run_id=run_id), "1", ex=STOP_FLAG_TTL_S)


def stop_requested(client: Redis, run_id: str) -> bool:
    return bool(client.exists(names.RUN_STOP_KEY.format(run_id=run_id)))
