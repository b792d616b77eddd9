"""/health (no I/O) and /ready (named checks, each with a deadline)."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from flask import Blueprint, jsonify

from shared import names
from shared.auth import public
from shared.errors import error_response
from shared.redis_client import redis_from_url

Check = Callable[[], None]
_pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="ready-check")


def run_checks(checks: dict[str, Check], timeout_s: float) -> dict[str, dict]:
    """Run every check in parallel; each fails if it raises or misses the deadline."""
    started = {name: time.perf_counter() for name in checks}
    futures = {name: _pool.submit(fn) for name, fn in checks.items()}
    deadline = time.monotonic() + timeout_s
    results: dict[str, dict[str, Any]] = {}
    for name, future in futures.items():
        try:
            future.result(timeout=max(0.0, deadline - time.monotonic()))
            results[name] = {"ok": True}
        except FutureTimeout:
            results[name] = {"ok": False, "error": f"timed out after {timeout_s:g}s"}
        except Exception as exc:  # a check reports any failure as its reason
            results[name] = {"ok": False, "error": f"{exc.__class__.__name__}: {exc}"[:300]}
        results[name]["ms"] = round((time.perf_counter() - started[name]) * 1000, 1)
    return results


def redis_check(url: str, timeout_s: float) -> Check:
    client = redis_from_url(url, timeout_s)

    def check() -> None:
        client.ping()

    return check


def worker_check(url: str, queue: str, timeout_s: float) -> Check:
    """At least one worker refreshed its alive key for queue recently."""
    client = redis_from_url(url, timeout_s)
    pattern = names.WORKER_ALIVE_KEY.format(queue=queue, hostname="*")

    def check() -> None:
        for _key in client.scan_iter(match=pattern, count=100):
            return
        raise RuntimeError(f"no worker consuming queue '{queue}'")

    return check


def health_blueprint(service: str, checks: dict[str, Check], timeout_s: float) -> Blueprint:
    """Routes /health and /ready under /api/v1/<service>."""
    bp = Blueprint("health", __name__)

    @bp.get("/health")
    @public
    def health():
        """Liveness: the process answers."""
        return jsonify({"status": "ok", "service": service})

    @bp.get("/ready")
    @public
    def ready():
        """Readiness: database, Redis and a worker on the service's queue."""
        results = run_checks(checks, timeout_s)
        failing = [name for name, r in results.items() if not r["ok"]]
        if failing:
            return error_response(503, "not_ready", "not ready: " + ", ".join(failing), {"checks": results})
        return jsonify({"status": "ready", "service": service, "checks": results})

    return bp
