"""Read the broker as an operator does: queue lengths and the workers alive per queue."""

from __future__ import annotations

from redis import Redis

from shared import names
from shared.celery_factory import PRIORITY_STEPS

# kombu's Redis transport keeps one list per priority step, named queue + sep + step.
KOMBU_PRIORITY_SEP = "\x06\x16"


def priority_queue_keys(queue: str) -> list[str]:
    """The Redis lists that hold queue's messages, one per priority step."""
    return [queue if step == 0 else f"{queue}{KOMBU_PRIORITY_SEP}{step}" for step in PRIORITY_STEPS]


def queue_length(client: Redis, queue: str) -> int:
    """Messages waiting in queue, over all its priority lists."""
    pipe = client.pipeline()
    for key in priority_queue_keys(queue):
        pipe.llen(key)
    return sum(pipe.execute())


def queue_lengths(client: Redis) -> dict[str, int]:
    return {queue: queue_length(client, queue) for queue in names.ALL_QUEUES}


def workers_online(client: Redis) -> dict[str, list[str]]:
    """Worker hostnames with a fresh alive key, per queue."""
    online: dict[str, list[str]] = {queue: [] for queue in names.ALL_QUEUES}
    pattern = names.WORKER_ALIVE_KEY.format(queue="*", hostname="*")
    prefix = names.WORKER_ALIVE_KEY.split("{")[0]
    for raw in client.scan_iter(match=pattern, count=200):
        queue, _, hostname = raw.decode()[len(prefix) :].partition(":")
        online.setdefault(queue, []).append(hostname)
    return {queue: sorted(hosts) for queue, hosts in online.items()}
