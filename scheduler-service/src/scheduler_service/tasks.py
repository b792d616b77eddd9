"""Celery tasks of the maintenance queue: thin wrappers over plain functions."""

from __future__ import annotations

import socket

from celery import shared_task

from shared import names


@shared_task(name=names.MAINTENANCE_PING, ignore_result=False)
def ping() -> dict:
    """Answer with the worker's host and queue (diagnostics, routing tests)."""
    return {"queue": names.MAINTENANCE_QUEUE, "host": socket.gethostname()}
