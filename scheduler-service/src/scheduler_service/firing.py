"""Start a schedule's run on its target service, as the schedule's owner, over HTTP."""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from dataclasses import dataclass

from shared import paths
from shared.auth import encode_token

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
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
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
