"""Celery tasks of the web-test service: thin wrappers over plain functions."""

from __future__ import annotations

import socket

from celery import shared_task

from shared import names


@shared_task(name=names.WEB_PING, ignore_result=False)
def ping() -> dict:
    """Answer with the worker's host and queue (diagnostics, routing tests)."""
    return {"queue": names.WEB_QUEUE, "host": socket.gethostname()}
