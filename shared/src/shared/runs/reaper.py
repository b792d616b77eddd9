"""The reaper: settle runs no live worker holds, requeue once, else error "worker lost"."""

from __future__ import annotations

import json
import logging
import uuid
from datetime import timedelta
from typing import Any

from celery import Celery
from redis import Redis
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from shared import names
from shared.broker import priority_queue_keys
from shared.db import rows_changed, utcnow
from shared.runs.api import send_run_task
from shared.runs.jobs import report_job
from shared.runs.kind import RunKind
from shared.runs.lock import is_locked
from shared.runs.model import MAX_ATTEMPTS, WORKER_LOST
from shared.runs.states import RunState

log = logging.getLogger(__name__)


def task_ids_in_broker(redis: Redis, queue: str) -> set[str]:
    """Ids of the tasks waiting in queue or held unacked by a worker."""
    raw_messages = []
    for key in priority_queue_keys(queue):
        raw_messages += redis.lrange(key, 0, -1)
    for payload in redis.hvals("unacked"):
        try:  # unacked entries are [message, exchange, routing_key]
            raw_messages.append(json.dumps(json.loads(payload)[0]))
        except (ValueError, IndexError, TypeError):
            continue
    ids: set[str] = set()
    for raw in raw_messages:
        try:
            task_id = json.loads(raw).get("headers", {}).get("id")
        except (ValueError, AttributeError):
            continue
        if task_id:
            ids.add(task_id)
    return ids


def reap_stuck_runs(session: Session, redis: Redis, celery: Celery, kind: RunKind, heartbeat_timeout_s: int) -> dict:
    """Requeue once, else settle as error, every run no live worker holds; return the counts.

    A running run is lost when its heartbeat is older than the timeout and nobody holds its lock; a
    queued run is lost when it is older than the timeout and its message is neither queued nor unacked.
    """
    model = kind.model
    cutoff = utcnow() - timedelta(seconds=heartbeat_timeout_s)
    running = session.execute(
        select(model).where(
            model.state == RunState.running,
            or_(model.heartbeat_at < cutoff, model.heartbeat_at.is_(None) & (model.started_at < cutoff)),
        )
    ).scalars()
    lost = [run for run in running if not is_locked(redis, run.id)]

    in_broker = task_ids_in_broker(redis, kind.queue)  # before the query: a message seen here stays accounted for
    queued = session.execute(select(model).where(model.state == RunState.queued, model.created_at < cutoff))
    suspects = [run for run in queued.scalars() if run.task_id not in in_broker]
    if suspects:
        # Look again: a worker moves a message from the queue into `unacked` in two steps.
        in_broker = task_ids_in_broker(redis, kind.queue)
        lost += [run for run in suspects if run.task_id not in in_broker and not is_locked(redis, run.id)]

    counts = {"requeued": 0, "settled": 0}
    for run in lost:
        # Compare-and-set on the state and attempt seen: a run a worker settled or claimed meanwhile is left alone.
        values: dict[str, Any]
        if run.attempts < MAX_ATTEMPTS:
            # A fresh task id, chosen before the message is sent (as enqueue_run does).
            values = {"state": RunState.queued, "started_at": None, "heartbeat_at": None, "task_id": uuid.uuid4().hex}
        else:
            values = {"state": RunState.error, "finished_at": utcnow(), "error": dict(WORKER_LOST)}
        seen = (model.id == run.id, model.state == run.state, model.attempts == run.attempts)
        changed = rows_changed(session, update(model).where(*seen).values(**values))
        session.commit()
        if not changed:
            continue
        session.refresh(run)
        if run.state == RunState.queued:
            send_run_task(celery, kind, run)
            counts["requeued"] += 1
        else:
            counts["settled"] += 1
    return counts


def reap(sessions: sessionmaker, redis: Redis, celery: Celery, kind: RunKind, service: str, timeout_s: int) -> dict:
    """The reap job of one service: settle its lost runs and report the counts to the scheduler."""
    with sessions() as session:
        outcome = reap_stuck_runs(session, redis, celery, kind, timeout_s)
    if any(outcome.values()):
        log.info("%s: %s", names.JOB_REAP_STUCK_RUNS, outcome)
    report_job(celery, service, names.JOB_REAP_STUCK_RUNS, outcome)
    return outcome
