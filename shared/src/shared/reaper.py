"""Settle runs whose worker is gone; each service calls it on its own Run table."""

from __future__ import annotations

import json
from datetime import timedelta

from celery import Celery
from redis import Redis
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from shared.broker import KOMBU_PRIORITY_SEP
from shared.celery_factory import PRIORITY_STEPS
from shared.db import utcnow
from shared.run_service import celery_priority
from shared.runs import LOCK_KEY, RunState

# A run is started at most this many times (first delivery + one re-enqueue by the reaper).
MAX_ATTEMPTS = 2
WORKER_LOST = {"code": "worker_lost", "message": "worker lost"}


def task_ids_in_broker(redis: Redis, queue: str) -> set[str]:
    """Ids of the tasks waiting in queue or held unacked by a worker."""
    ids: set[str] = set()
    raw_messages = []
    for step in PRIORITY_STEPS:
        raw_messages += redis.lrange(queue if step == 0 else f"{queue}{KOMBU_PRIORITY_SEP}{step}", 0, -1)
    for payload in redis.hvals("unacked"):
        try:  # unacked entries are [message, exchange, routing_key]
            raw_messages.append(json.dumps(json.loads(payload)[0]))
        except (ValueError, IndexError, TypeError):
            continue
    for raw in raw_messages:
        try:
            task_id = json.loads(raw).get("headers", {}).get("id")
        except (ValueError, AttributeError):
            continue
        if task_id:
            ids.add(task_id)
    return ids


def reap_stuck_runs(
    *,
    session: Session,
    run_model,
    redis: Redis,
    celery: Celery,
    task_name: str,
    queue: str,
    heartbeat_timeout_s: int,
    priority_of=lambda run: celery_priority(run.priority),
) -> dict[str, int]:
    """Requeue once, else settle as error, every run no live worker holds; return the counts."""
    cutoff = utcnow() - timedelta(seconds=heartbeat_timeout_s)
    counts = {"requeued": 0, "settled": 0}
    running = session.execute(
        select(run_model).where(
            run_model.state == RunState.running,
            or_(run_model.heartbeat_at < cutoff, run_model.heartbeat_at.is_(None) & (run_model.started_at < cutoff)),
        )
    ).scalars()
    lost = [run for run in running if not redis.exists(LOCK_KEY.format(run_id=run.id))]

    in_broker = task_ids_in_broker(redis, queue)  # before the query: a message seen here stays accounted for
    queued = list(
        session.execute(
            select(run_model).where(run_model.state == RunState.queued, run_model.created_at < cutoff)
        ).scalars()
    )
    suspects = [run for run in queued if run.task_id not in in_broker]
    if suspects:
        # Look again: a worker moves a message from the queue into `unacked` in two steps.
        in_broker = task_ids_in_broker(redis, queue)
        lost += [
            run for run in suspects if run.task_id not in in_broker and not redis.exists(LOCK_KEY.format(run_id=run.id))
        ]

    for run in lost:
        # Compare-and-set on the state seen: a run that a worker settled or restarted meanwhile is left alone.
        seen = run.state
        if run.attempts < MAX_ATTEMPTS:
            values = {"state": RunState.queued, "started_at": None, "heartbeat_at": None, "attempts": run.attempts + 1}
        else:
            values = {"state": RunState.error, "finished_at": utcnow(), "error": dict(WORKER_LOST)}
        changed = session.execute(
            update(run_model).where(run_model.id == run.id, run_model.state == seen).values(**values)
        ).rowcount
        session.commit()
        if not changed:
            continue
        session.refresh(run)
        if run.state == RunState.queued:
            run.task_id = celery.send_task(task_name, args=[run.id], priority=priority_of(run)).id
            session.commit()
            counts["requeued"] += 1
        else:
            counts["settled"] += 1
    return counts
