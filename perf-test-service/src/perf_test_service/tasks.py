"""Celery tasks of the perf-test service: thin wrappers over plain functions."""

from __future__ import annotations

from celery import shared_task

from shared import names


@shared_task(name=names.PERF_PING, bind=True, ignore_result=False)
def ping(self) -> dict:
    """Answer with the worker's node name and queue (diagnostics, routing tests)."""
    return {"queue": names.PERF_QUEUE, "worker": self.request.hostname}
