"""Tasks go to their own queue's worker pool, and only there."""

from __future__ import annotations

import pytest

from shared import names
from shared.celery_factory import make_celery
from shared.config import BaseServiceSettings
from shared.testing import TEST_SECRET, service_env
from tests.platform.services import SERVICES

pytestmark = pytest.mark.timeout(180)


def test_each_task_runs_on_its_own_queue_worker(redis_url, tmp_path, start_worker):
    workers = {}
    for service in SERVICES:
        env = service_env(redis_url, f"sqlite:///{tmp_path / service.name}.db", tmp_path)
        workers[service.queue] = start_worker(service.worker_module, service.queue, env)

    client = make_celery("test-client", BaseServiceSettings(redis_url=redis_url, auth_secret=TEST_SECRET))
    sent = {queue: [client.send_task(names.PING_TASK[queue]) for _ in range(10)] for queue in names.PING_TASK}
    for queue, results in sent.items():
        answered_by = {r.get(timeout=60)["worker"] for r in results}
        assert answered_by == {workers[queue].hostname}, f"{queue} tasks ran on {answered_by}"

    # The other pools never even received a foreign task.
    for queue, worker in workers.items():
        log = worker.log.read_text()
        foreign = [t for q, t in names.PING_TASK.items() if q != queue]
        assert not any(f"Task {t}[" in log for t in foreign), f"{worker.hostname} received a foreign task"
        assert f"Task {names.PING_TASK[queue]}[" in log


def test_routes_are_declared_once():
    assert names.TASK_ROUTES == {
        "web.*": {"queue": "web"},
        "perf.*": {"queue": "perf"},
        "maintenance.*": {"queue": "maintenance"},
        "webhooks.*": {"queue": "webhooks"},
    }
    app = make_celery("routes", BaseServiceSettings())
    for queue, task in names.PING_TASK.items():
        assert app.amqp.router.route({}, task)["queue"].name == queue
