"""JSON log lines on stdout, each carrying the request id the gateway set."""

from __future__ import annotations

import json
import logging
import sys
import time
import uuid
from contextvars import ContextVar

from flask import Flask, g, request

REQUEST_ID_HEADER = "X-Request-Id"
request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)


class JsonFormatter(logging.Formatter):
    """One JSON object per line; never the Authorization header or a token."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        rid = request_id_var.get()
        if rid:
            entry["request_id"] = rid
        for key in ("method", "path", "status", "duration_ms", "user"):
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(level: str = "INFO") -> None:
    """Send the root logger's records to stdout as JSON (idempotent)."""
    root = logging.getLogger()
    if any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        return
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


def init_request_logging(app: Flask) -> None:
    """Adopt or create X-Request-Id, echo it back, log one line per request."""
    access = logging.getLogger("testfleet.access")

    @app.before_request
    def _start():
        rid = request.headers.get(REQUEST_ID_HEADER, "")[:128] or uuid.uuid4().hex
        g.request_id = rid
        g.request_token = request_id_var.set(rid)
        g.request_started = time.perf_counter()

    @app.after_request
    def _finish(response):
        response.headers["X-TestFleet-Service"] = app.extensions["settings"].service_name
        rid = g.get("request_id")
        if rid:
            response.headers[REQUEST_ID_HEADER] = rid
            started = g.get("request_started", time.perf_counter())
            user = g.get("user")
            access.info(
                "%s %s %s",
                request.method,
                request.path,
                response.status_code,
                extra={
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                    "user": user.id if user else None,
                },
            )
        return response

    @app.teardown_request
    def _reset(_exc):
        token = g.pop("request_token", None)
        if token is not None:
            request_id_var.reset(token)
