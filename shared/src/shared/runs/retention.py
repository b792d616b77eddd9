"""Retention: delete finished runs (and their child rows) older than the retention period."""

from __future__ import annotations

import logging
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


def cleanup_old_results(sessions: sessionmaker, celery: Celery, kind: RunKind, service: str, days: int) -> dict:
    """The cleanup job of one service: delete its old runs (idempotent) and report the counts."""
    with sessions() as session:
        counts = delete_runs_older_than(session, kind, utcnow() - timedelta(days=days))
    outcome = {"retention_days": days, "deleted": counts}
    log.info("%s: %s", names.JOB_CLEANUP_OLD_RESULTS, outcome)
    report_job(celery, service, names.JOB_CLEANUP_OLD_RESULTS, outcome)
    return outcome
