"""/api/v1/webhooks: create (the secret shown once), list, read, change, rotate the secret, delete;
the delivery log, redeliver, send a test event."""

from __future__ import annotations

import logging

from flask import Blueprint, current_app

from scheduler_service import webhooks
from scheduler_service.webhook_schemas import (
    DeliveryList,
    DeliveryRead,
    WebhookCreate,
    WebhookList,
    WebhookPatch,
    WebhookRead,
    WebhookWithSecret,
)
from shared import names
from shared.auth import current_user, require_role
from shared.body import json_object
from shared.db import current_session
from shared.openapi import PAGE_QUERY, document
from shared.pagination import paginate
from shared.responses import respond

bp = Blueprint("webhooks", __name__)
log = logging.getLogger(__name__)


def _settings():
    return current_app.extensions["settings"]


@bp.post("")
@require_role("tester")
@document("Create a webhook owned by the caller; the answer shows its secret, once.", body=WebhookCreate,
          response=WebhookWithSecret, status=201)  # fmt: skip
def create():
    """Create a webhook owned by the caller; the answer shows its secret, once."""
    data = WebhookCreate.model_validate(json_object())
    webhook = webhooks.create_webhook(current_session(), _settings(), current_user(), data)
    return respond(WebhookWithSecret, webhook, 201)


@bp.get("")
@require_role("tester")
@document("List the caller's webhooks (an admin's: all), newest first.", response=WebhookList, query=PAGE_QUERY)
def list_():
    """List the caller's webhooks (an admin's: all), newest first."""
    return paginate(current_session(), webhooks.webhooks_query(current_user()), WebhookRead)


@bp.get("/<webhook_id>")
@require_role("tester")
@document("One webhook (never its secret).", response=WebhookRead)
def get(webhook_id: str):
    """One webhook (never its secret)."""
    return respond(WebhookRead, webhooks.get_webhook(current_session(), current_user(), webhook_id))


@bp.patch("/<webhook_id>")
@require_role("tester")
@document("Change some fields, e.g. {enabled: true} after the platform disabled it.", body=WebhookPatch,
          response=WebhookRead)  # fmt: skip
def patch(webhook_id: str):
    """Change some fields, e.g. {enabled: true} after the platform disabled it."""
    data = WebhookPatch.model_validate(json_object())
    return respond(
        WebhookRead, webhooks.patch_webhook(current_session(), _settings(), current_user(), webhook_id, data)
    )


@bp.post("/<webhook_id>/rotate-secret")
@require_role("tester")
@document("A new secret, shown once; the previous one still signs for 24 h.", response=WebhookWithSecret)
def rotate_secret(webhook_id: str):
    """A new secret, shown once; the previous one still signs for 24 h."""
    return respond(WebhookWithSecret, webhooks.rotate_secret(current_session(), current_user(), webhook_id))


@bp.delete("/<webhook_id>")
@require_role("tester")
@document("Delete a webhook and its delivery log.", status=204)
def delete(webhook_id: str):
    """Delete a webhook and its delivery log."""
    webhooks.delete_webhook(current_session(), current_user(), webhook_id)
    return "", 204


@bp.get("/<webhook_id>/deliveries")
@require_role("tester")
@document("The webhook's delivery log, newest first: each attempt's status, duration and answer.",
          response=DeliveryList, query=PAGE_QUERY)  # fmt: skip
def deliveries(webhook_id: str):
    """The webhook's delivery log, newest first: each attempt's status, duration and answer."""
    return paginate(current_session(), webhooks.deliveries_query(current_session(), current_user(), webhook_id),
                    DeliveryRead)  # fmt: skip


@bp.post("/<webhook_id>/deliveries/<delivery_id>/redeliver")
@require_role("tester")
@document("Send a delivery again now (same event id and body), with the whole retry schedule.",
          response=DeliveryRead, status=202)  # fmt: skip
def redeliver(webhook_id: str, delivery_id: str):
    """Send a delivery again now (same event id and body), with the whole retry schedule."""
    delivery = webhooks.redeliver(current_session(), current_user(), webhook_id, delivery_id)
    _send_now(webhook_id)
    return respond(DeliveryRead, delivery, 202)


@bp.post("/<webhook_id>/test")
@require_role("tester")
@document("Send a webhook.test event to this webhook; 202 with its delivery.", response=DeliveryRead, status=202)
def test(webhook_id: str):
    """Send a webhook.test event to this webhook; 202 with its delivery."""
    delivery = webhooks.test_event(current_session(), current_user(), webhook_id)
    _send_now(webhook_id)
    return respond(DeliveryRead, delivery, 202)


def _send_now(webhook_id: str) -> None:
    # If the broker is away the delivery waits in the database; beat's sweep sends it.
    try:
        current_app.extensions["celery"].send_task(names.WEBHOOKS_DELIVER, kwargs={"webhook_id": webhook_id})
    except Exception:
        log.warning("could not queue delivery of webhook %s; the sweep will", webhook_id, exc_info=True)
