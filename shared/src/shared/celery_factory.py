"""One Celery factory: broker, routes and the reliability settings (README.md, "Celery settings")."""

from __future__ import annotations

import logging
import socket
from typing import TYPE_CHECKING

from celery import Celery, Task, signals
from kombu import Queue

from shared import names
from shared.config import BaseServiceSettings
from shared.redis_client import redis_from_url

if TYPE_CHECKING:
    from flask import Flask

log = logging.getLogger(__name__)

# Redis priorities: kombu keeps one list per step; the contract's 0-9 map onto them.
PRIORITY_STEPS = list(range(10))
DEFAULT_PRIORITY = 5


def make_celery(
    name: str,
    settings: BaseServiceSettings,
    include: list[str] | None = None,
    flask_app: Flask | None = None,
) -> Celery:
    """Build a Celery app for one service with the platform's settings."""
    app = Celery(name, broker=settings.redis_url, include=include or [])
    app.conf.update(
        result_backend=settings.redis_url,
        task_ignore_result=True,
        result_expires=3600,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        event_serializer="json",
        # A task is acked only after it finished; a killed pool child puts it back.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_track_started=True,
        worker_send_task_events=True,
        task_send_sent_event=True,
        task_routes=names.TASK_ROUTES,
        task_queues=[Queue(q, routing_key=q) for q in names.ALL_QUEUES],
        task_default_queue=names.SERVICE_QUEUE.get(name, names.MAINTENANCE_QUEUE),
        task_default_priority=DEFAULT_PRIORITY,
        task_queue_max_priority=max(PRIORITY_STEPS),
        task_soft_time_limit=settings.task_soft_time_limit,
        task_time_limit=settings.task_time_limit,
        broker_connection_retry_on_startup=True,
        broker_transport_options={
            "visibility_timeout": settings.visibility_timeout,
            # Sweep for abandoned messages every 10 s instead of kombu's 10 x 10 s.
            "unacked_restore_interval": 10,
            "unacked_restore_throttle": 1,
            "priority_steps": PRIORITY_STEPS,
            "queue_order_strategy": "priority",
            "socket_timeout": 10,
            "socket_connect_timeout": 5,
        },
        result_backend_transport_options={"visibility_timeout": settings.visibility_timeout},
        timezone="UTC",
        enable_utc=True,
    )
    app.conf.testfleet_settings = settings
    if flask_app is not None:
        app.Task = _flask_task(flask_app)
        flask_app.extensions["celery"] = app
    return app


def _flask_task(flask_app: Flask) -> type[Task]:
    class FlaskTask(Task):
        """Run every task inside the Flask app context (db session, settings)."""

        def __call__(self, *args, **kwargs):
            with flask_app.app_context():
                return self.run(*args, **kwargs)

    return FlaskTask


# --- worker liveness: a Redis key per (queue, worker) and a heartbeat file ------------

_alive_state: dict = {}


def init_worker_liveness() -> None:
    """Wire this worker's alive keys and heartbeat file to Celery's signals (call from worker entry points)."""
    signals.worker_ready.connect(_on_worker_ready, weak=False)
    signals.heartbeat_sent.connect(_on_heartbeat, weak=False)
    signals.worker_shutdown.connect(_on_worker_shutdown, weak=False)


def _on_worker_ready(sender=None, **_kwargs) -> None:
    app = sender.app
    settings: BaseServiceSettings | None = app.conf.get("testfleet_settings")
    if settings is None:
        return
    queues = sorted(app.amqp.queues.consume_from or {})
    _alive_state.update(
        app=app,
        settings=settings,
        hostname=sender.hostname or socket.gethostname(),
        queues=queues,
        redis=redis_from_url(settings.redis_url),
    )
    mark_worker_alive()


def _on_heartbeat(**_kwargs) -> None:
    mark_worker_alive()


def _on_worker_shutdown(**_kwargs) -> None:
    if not _alive_state:
        return
    try:
        keys = [_alive_key(q) for q in _alive_state["queues"]]
        if keys:
            _alive_state["redis"].delete(*keys)
    except Exception:  # the broker may already be gone; the keys expire anyway
        log.debug("could not clear worker-alive keys", exc_info=True)


def _alive_key(queue: str) -> str:
    return names.WORKER_ALIVE_KEY.format(queue=queue, hostname=_alive_state["hostname"])


def mark_worker_alive() -> None:
    """Refresh this worker's alive keys and touch its heartbeat file (k8s liveness)."""
    if not _alive_state:
        return
    settings: BaseServiceSettings = _alive_state["settings"]
    heartbeat_dir = settings.resolved_var_dir / "heartbeat"
    heartbeat_dir.mkdir(parents=True, exist_ok=True)
    (heartbeat_dir / _alive_state["hostname"]).touch()
    try:
        pipe = _alive_state["redis"].pipeline()
        for queue in _alive_state["queues"]:
            pipe.set(_alive_key(queue), "1", ex=settings.worker_alive_ttl_s)
        pipe.execute()
    except Exception:
        log.warning("could not refresh worker-alive keys", exc_info=True)
