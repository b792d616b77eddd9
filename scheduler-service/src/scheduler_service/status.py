"""The platform at a glance: every service's readiness, workers online, queue lengths."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from redis import Redis

from shared.broker import queue_lengths, workers_online


def service_readiness(url: str, timeout_s: float) -> dict:
    """GET <url>/ready; report the status code and the failing checks."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as resp:  # noqa: S310 (configured URL)
            body = json.loads(resp.read() or b"{}")
            return {"ready": True, "status": resp.status, "checks": body.get("checks")}
    except urllib.error.HTTPError as exc:
        try:
            details = json.loads(exc.read() or b"{}").get("error", {}).get("details") or {}
        except ValueError:
            details = {}
        return {"ready": False, "status": exc.code, "checks": details.get("checks")}
    except (OSError, ValueError) as exc:
        return {"ready": False, "status": None, "error": f"{exc.__class__.__name__}: {exc}"}


def beat_status(redis_client: Redis, max_age_s: float) -> dict:
    """Which beat is active and how long ago it ticked."""
    from scheduler_service.beat import BEAT_HOLDER_KEY, last_tick_age_s

    age = last_tick_age_s(redis_client)
    holder = redis_client.get(BEAT_HOLDER_KEY)
    return {
        "active": holder.decode() if isinstance(holder, bytes) else holder,
        "last_tick_age_s": None if age is None else round(age, 1),
        "ok": age is not None and age <= max_age_s,
    }


def platform_status(redis_client: Redis, ready_urls: dict[str, str], timeout_s: float) -> dict:
    """Gather readiness (in parallel), workers and queue lengths."""
    with ThreadPoolExecutor(max_workers=len(ready_urls) or 1) as pool:
        futures = {name: pool.submit(service_readiness, url, timeout_s) for name, url in ready_urls.items()}
        services = {name: f.result() for name, f in futures.items()}
    lengths = queue_lengths(redis_client)
    workers = workers_online(redis_client)
    return {
        "services": services,
        "queues": {q: {"length": lengths[q], "workers": workers.get(q, [])} for q in lengths},
        "workers_online": sorted({w for hosts in workers.values() for w in hosts}),
    }
