"""Webhook signatures: Standard Webhooks headers and GitHub's X-Hub-Signature-256 (docs/api.md, "Verifying").

Standard Webhooks (https://www.standardwebhooks.com): the key is the secret's base64 part decoded, the
signed content is "{webhook-id}.{webhook-timestamp}.{body}", the header "v1,<base64 HMAC-SHA256>", one
per valid secret separated by spaces. GitHub-style receivers key HMAC-SHA256 of the body with the
whole secret string, as GitHub does with a webhook's secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"  # noqa: S105 - the prefix of every secret, not a secret


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def standard_signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def hub_signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_headers(secrets_: list[str], message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The headers of one attempt; secrets_[0] is the current secret, any others still valid ones."""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(standard_signature(s, message_id, timestamp, body) for s in secrets_),
        "X-Hub-Signature-256": hub_signature(secrets_[0], body),
    }
