"""Webhooks: plain functions the views call (create, read, change, rotate the secret, delete).

A webhook's URL may carry a credential (a Slack or Teams URL is one), so only its owner and admins see
it: not viewers, unlike schedules.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import Select, select

from scheduler_service.config import SchedulerSettings
from scheduler_service.models import Webhook, WebhookDelivery
from scheduler_service.signing import new_secret
from scheduler_service.webhook_delivery import add_delivery
from scheduler_service.webhook_schemas import WebhookCreate, WebhookPatch
from shared.auth import Role, User
from shared.db import iso, utcnow
from shared.errors import NotFound, Unprocessable
from shared.host_policy import HostNotAllowed

TEST_EVENT = "webhook.test"
# After a rotation the previous secret still signs for this long.
PREVIOUS_SECRET_VALID = timedelta(hours=24)


def check_url(settings: SchedulerSettings, url: str) -> None:
    """422 naming the field unless the URL's host (and every address it resolves to) passes the policy."""
    try:
        settings.webhook_policy.check_url(url)
    except HostNotAllowed as exc:
        raise Unprocessable(f"url: {exc}", details=[{"field": "url", "message": str(exc)}]) from None


def create_webhook(session, settings: SchedulerSettings, user: User, data: WebhookCreate) -> Webhook:
    check_url(settings, data.url)
    webhook = Webhook(
        owner=user.id,
        owner_role=user.role.name,
        name=data.name,
        url=data.url,
        events=list(dict.fromkeys(data.events)),
        filters=data.filters.model_dump(),
        format=data.format,
        enabled=data.enabled,
        secret=new_secret(),
    )
    session.add(webhook)
    session.commit()
    return webhook


def webhooks_query(user: User) -> Select:
    """The webhooks the user may read (their own; an admin's: all), newest first."""
    query = select(Webhook).order_by(Webhook.created_at.desc(), Webhook.id)
    return query if user.role is Role.admin else query.where(Webhook.owner == user.id)


def get_webhook(session, user: User, webhook_id: str) -> Webhook:
    """The webhook if it is the user's (or the user is an admin); 404 otherwise, so ids do not leak."""
    webhook = session.get(Webhook, webhook_id)
    if webhook is None or (user.role is not Role.admin and webhook.owner != user.id):
        raise NotFound(f"webhook {webhook_id} not found")
    return webhook


def patch_webhook(session, settings: SchedulerSettings, user: User, webhook_id: str, data: WebhookPatch) -> Webhook:
    webhook = get_webhook(session, user, webhook_id)
    changes = data.model_dump(exclude_none=True)
    if "url" in changes:
        check_url(settings, changes["url"])
    if "events" in changes:
        changes["events"] = list(dict.fromkeys(changes["events"]))
    for field, value in changes.items():
        setattr(webhook, field, value)
    if changes.get("enabled"):  # enabled again by a person: the platform's reason no longer holds
        webhook.disabled_reason, webhook.failing_since = None, None
    session.commit()
    return webhook


def rotate_secret(session, user: User, webhook_id: str) -> Webhook:
    """A new secret; the current one keeps signing (as a second signature) for PREVIOUS_SECRET_VALID."""
    webhook = get_webhook(session, user, webhook_id)
    webhook.previous_secret, webhook.secret = webhook.secret, new_secret()
    webhook.previous_secret_expires_at = utcnow() + PREVIOUS_SECRET_VALID
    session.commit()
    return webhook


def delete_webhook(session, user: User, webhook_id: str) -> None:
    session.delete(get_webhook(session, user, webhook_id))
    session.commit()


# --- the delivery log ------------------------------------------------------------------------


def deliveries_query(session, user: User, webhook_id: str) -> Select:
    """The webhook's deliveries, newest first (404 unless the user may see the webhook)."""
    get_webhook(session, user, webhook_id)
    query = select(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook_id)
    return query.order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id.desc())


def redeliver(session, user: User, webhook_id: str, delivery_id: str) -> WebhookDelivery:
    """Send a delivery again, now, with the whole retry schedule ahead of it (same event id, same body)."""
    get_webhook(session, user, webhook_id)
    delivery = session.get(WebhookDelivery, delivery_id)
    if delivery is None or delivery.webhook_id != webhook_id:
        raise NotFound(f"delivery {delivery_id} not found")
    delivery.state, delivery.retries, delivery.next_attempt_at = "pending", 0, utcnow()
    session.commit()
    return delivery


def test_event(session, user: User, webhook_id: str) -> WebhookDelivery:
    """A webhook.test event for this webhook only, delivered like any other (signed, retried, logged)."""
    webhook = get_webhook(session, user, webhook_id)
    event = {
        "id": f"evt_{uuid.uuid4().hex}",
        "type": TEST_EVENT,
        "created_at": iso(utcnow()),
        "data": {"webhook_id": webhook.id, "webhook_name": webhook.name, "message": "a test event from TestFleet"},
    }
    delivery = add_delivery(session, webhook, event)
    assert delivery is not None  # a fresh event id
    return delivery
