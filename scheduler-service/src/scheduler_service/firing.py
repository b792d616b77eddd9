"""Start a schedule's run on its target service, as the schedule's owner, over HTTP."""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime

from shared import paths
from shared.auth import encode_token
from shared.db import iso
from shared.runs.idempotency import HEADER as IDEMPOTENCY_HEADER

log = logging.getLogger(__name__)

# Answers that mean "try again shortly": the target is restarting or overloaded.
RETRYABLE_STATUS = frozenset({429, 502, 503, 504})


@dataclass(frozen=True)
class RunRequest:
    """Everything needed to start one run; built from a schedule row."""

    base_url: str
    kind: str
    target_id: str
    params: dict
    owner: str
    owner_role: str
    # Sent as the Idempotency-Key header: every retry of one firing sends the same key, so the target
    # answers a retry whose first attempt did start a run (its answer was lost) with that run.
    idempotency_key: str | None = None


def firing_key(schedule_id: str, slot: datetime) -> str:
    """The Idempotency-Key of a schedule's firing of one slot: the same for every retry of it.

    A slot is the instant its wall-clock time fires (cron.py), one per wall-clock time, so the key names
    the schedule's wall-clock slot too: the repeated hour of a clock change cannot make a second key.
    """
    return f"schedule-{schedule_id}-{iso(slot)}"


def run_url(request: RunRequest) -> str:
    """The target service's run endpoint for this request."""
    return request.base_url.rstrip("/") + paths.RUN_TARGET[request.kind].format(id=request.target_id)


def start_run(request: RunRequest, *, secret: str, token_ttl_s: int, timeout_s: float) -> dict:
    """POST the run to the target with a token minted for the owner; describe the answer.

    Returns {status, http_status, run_id?, task_id?, error?, retryable}; never raises for
    what the target or the network does.
    """
    token = encode_token(secret, request.owner, request.owner_role, token_ttl_s)
    req = urllib.request.Request(  # noqa: S310 (the URL comes from settings, not from users)
        run_url(request),
        data=json.dumps(request.params).encode(),
        method="POST",
        headers=_headers(request, token),
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:  # noqa: S310
            body = _json(resp.read())
            return {
                "status": "started",
                "http_status": resp.status,
                "run_id": _str(body.get("run_id")),
                "task_id": _str(body.get("task_id")),
                "retryable": False,
            }
    except urllib.error.HTTPError as exc:
        message = _error_message(exc)
        status = {404: "target_not_found", 409: "run_active"}.get(exc.code)
        if status is None:
            status = "error" if exc.code >= 500 or exc.code in RETRYABLE_STATUS else "rejected"
        return {
            "status": status,
            "http_status": exc.code,
            "error": message,
            "retryable": exc.code in RETRYABLE_STATUS,
        }
    except (OSError, ValueError) as exc:  # refused, unreachable, timed out, bad URL
        return {"status": "error", "error": f"{exc.__class__.__name__}: {exc}"[:300], "retryable": True}


def _headers(request: RunRequest, token: str) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    if request.idempotency_key:
        headers[IDEMPOTENCY_HEADER] = f'"{request.idempotency_key}"'  # the quoted (Structured Fields) form
    return headers


def _json(raw: bytes) -> dict:
    try:
        body = json.loads(raw or b"{}")
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _str(value) -> str | None:
    return None if value is None else str(value)


def _error_message(exc: urllib.error.HTTPError) -> str:
    """The contract's error.message if the target sent one, else the HTTP reason."""
    try:
        body = _json(exc.read())
    except OSError:
        body = {}
    error = body.get("error")
    if isinstance(error, dict) and error.get("message"):
        return str(error["message"])[:300]
    return f"HTTP {exc.code} {exc.reason}"[:300]
