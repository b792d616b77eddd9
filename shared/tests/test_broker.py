"""Queue lengths over every priority list, and the workers alive per queue."""

from shared import names
from shared.broker import queue_lengths, workers_online
from shared.celery_factory import make_celery
from shared.config import BaseServiceSettings
from shared.redis_client import redis_from_url


def test_queue_lengths_count_every_priority(redis_url):
    app = make_celery("test", BaseServiceSettings(redis_url=redis_url))
    for priority in (0, 3, 5, 9):
        app.send_task(names.WEB_PING, priority=priority)
    app.send_task(names.PERF_PING)
    lengths = queue_lengths(redis_from_url(redis_url))
    assert lengths == {"web": 4, "perf": 1, "maintenance": 0, "webhooks": 0}


def test_workers_online_reads_alive_keys(redis_url):
    client = redis_from_url(redis_url)
    client.set(names.WORKER_ALIVE_KEY.format(queue="web", hostname="web@a"), "1", ex=10)
    client.set(names.WORKER_ALIVE_KEY.format(queue="web", hostname="web@b"), "1", ex=10)
    assert workers_online(client) == {"web": ["web@a", "web@b"], "perf": [], "maintenance": [], "webhooks": []}
