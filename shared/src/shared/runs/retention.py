"""Retention: delete finished runs (and their child rows) older than the retention period."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from celery import Celery
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from shared import names
from shared.db import rows_changed, utcnow
from shared.runs.jobs import report_job
from shared.runs.kind import RunKind
from shared.runs.states import TERMINAL_STATES

log = logging.getLogger(__name__)
CHUNK = 500


def delete_runs_older_than(session: Session, kind: RunKind, cutoff: datetime) -> dict[str, int]:
    """Delete finished runs created before cutoff and their child rows; return what was deleted."""
    model = kind.model
    old = select(model.id).where(model.created_at < cutoff, model.state.in_([s.value for s in TERMINAL_STATES]))
    ids = list(session.execute(old).scalars())
    counts = {"runs": 0} | {child.__tablename__: 0 for child in kind.children}
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        for child in kind.children:
            where = child.run_id.in_(chunk)
            counted = select(func.count()).select_from(child).where(where)
            counts[child.__tablename__] += session.execute(counted).scalar_one()
            session.execute(delete(child).where(where))
        counts["runs"] += rows_changed(session, delete(model).where(model.id.in_(chunk)))
    session.commit()
    return counts


# What a service deletes after its runs (e.g. project runs left without children): (session, cutoff) -> counts.
AfterCleanup = Callable[[Session, datetime], dict[str, int]]


def cleanup_old_results(
    sessions: sessionmaker, celery: Celery, kind: RunKind, service: str, days: int, after: AfterCleanup | None = None
) -> dict:
    """The cleanup job of one service: delete its old runs (idempotent) and report the counts."""
    cutoff = utcnow() - timedelta(days=days)
    with sessions() as session:
        counts = delete_runs_older_than(session, kind, cutoff)
        if after is not None:
            counts |= after(session, cutoff)
    outcome = {"retention_days": days, "deleted": counts}
    log.info("%s: %s", names.JOB_CLEANUP_OLD_RESULTS, outcome)
    report_job(celery, service, names.JOB_CLEANUP_OLD_RESULTS, outcome)
    return outcome
