"""The Idempotency-Key of a run start: a client's name for one attempt, so its retries start one run.

A client (the scheduler's firing, a CI job) that may send the same start twice, because an answer
was lost, sends the same key each time; the run row keeps the key, and shared/runs/api.py answers a
repeat with that row instead of a second run. The key alone is not enough: a fingerprint of what was
asked tells a retry from a client that reused a key for another request.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from shared.errors import BadRequest

HEADER = "Idempotency-Key"
# Set on an answer that is a replay, as other APIs with idempotency keys do (the body says `replayed` too).
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
PRINTABLE_ASCII = re.compile(r"[\x20-\x7e]+")
# The header as the OpenAPI documents of the start routes describe it (openapi.document(headers=...)).
HEADER_PARAMETER = {
    "description": "Any string naming this start: a repeat with the same key and body answers with the first run",
    "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH, "pattern": "^[\\x20-\\x7e]+$"},
}


@dataclass(frozen=True)
class IdempotencyKey:
    """A request's key and the fingerprint of what that request asked for."""

    value: str
    fingerprint: str


def parse_idempotency_key(header: str | None, *, requester: str, target_id: str, body: Any) -> IdempotencyKey | None:
    """The key of a start request (None without the header); 400 naming the header if it is malformed.

    The key may be sent bare or as a quoted string (`"abc"`, the Structured Fields form); both mean abc.
    The fingerprint covers who asks, for which script or scenario, with which JSON body (key order aside).
    """
    if header is None:
        return None
    value = header.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    if not 0 < len(value) <= MAX_KEY_LENGTH or not PRINTABLE_ASCII.fullmatch(value):
        message = f"must be 1 to {MAX_KEY_LENGTH} printable ASCII characters"
        raise BadRequest(f"{HEADER} {message}", details=[{"field": HEADER, "message": message}])
    asked = json.dumps({"requester": requester, "target": target_id, "body": body}, sort_keys=True)
    return IdempotencyKey(value, hashlib.sha256(asked.encode()).hexdigest())
