"""Webhook deliveries: an event becomes one delivery per matching webhook, sent in order, retried, logged.

The database holds every delivery and when it is due, so nothing depends on a Celery message surviving:
publish_event inserts the deliveries (once per event and webhook: a redelivered message inserts nothing
new), deliver() sends a webhook's due deliveries oldest first under a per-webhook Redis lock, and beat's
sweep sends deliver() for every webhook with something due. An attempt first moves its delivery's
next_attempt_at a lease ahead: a worker killed mid-POST leaves it due again once the lease has passed.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import urllib3
from redis import Redis
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from scheduler_service.config import SchedulerSettings
from scheduler_service.models import Webhook, WebhookDelivery
from scheduler_service.signing import signature_headers
from scheduler_service.webhook_bodies import render
from shared import names
from shared.db import utcnow
from shared.host_policy import HostNotAllowed, HostPolicy

log = logging.getLogger(__name__)

PENDING, DELIVERED, DEAD = "pending", "delivered", "dead"
# A deliver() call stops taking new deliveries after this long; the sweep sends the rest.
DELIVER_BUDGET_S = 120
RESPONSE_EXCERPT_BYTES = 2048
LOG_LIMIT = 50  # attempts kept per delivery
USER_AGENT = "TestFleet-Webhooks/1"


# --- which webhooks hear an event ------------------------------------------------------------


def matches(webhook: Webhook, event: dict) -> bool:
    """Whether the webhook takes this event: its type is chosen and the run passes every filter."""
    if event["type"] not in webhook.events:
        return False
    data, filters = event.get("data") or {}, webhook.filters or {}
    target_id = (data.get("target") or {}).get("id")
    wanted = {
        "kinds": data.get("kind"),
        "project_ids": target_id if data.get("kind") == "project" else data.get("project_id"),
        "script_ids": target_id if data.get("kind") == "web" else None,
        "scenario_ids": target_id if data.get("kind") == "perf" else None,
    }
    return all(not filters.get(key) or value in filters[key] for key, value in wanted.items())


def enqueue_event(session: Session, event: dict) -> list[str]:
    """Insert a delivery of the event for every enabled webhook it matches; the ids of those webhooks.

    Owners hear only of their own runs, admins' webhooks of every run.
    """
    owner = (event.get("data") or {}).get("owner")
    webhooks = session.execute(select(Webhook).where(Webhook.enabled.is_(True))).scalars().all()
    chosen = [w for w in webhooks if matches(w, event) and _may_hear(w, owner)]
    for webhook in chosen:
        add_delivery(session, webhook, event)
    return [webhook.id for webhook in chosen]


def _may_hear(webhook: Webhook, run_owner: str | None) -> bool:
    return webhook.owner == run_owner or webhook.owner_role == "admin"


def add_delivery(session: Session, webhook: Webhook, event: dict) -> WebhookDelivery | None:
    """One delivery of event to webhook, due now; None if it exists already (a redelivered message)."""
    delivery = WebhookDelivery(
        webhook_id=webhook.id,
        event_id=event["id"],
        event_type=event["type"],
        body=render(webhook.format, event),
        state=PENDING,
        attempts=0,
        retries=0,
        next_attempt_at=utcnow(),
        log=[],
    )
    session.add(delivery)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        return None
    return delivery


# --- sending -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """What one POST got: the status (None if no answer), a body excerpt, Retry-After, the error."""

    status_code: int | None
    response: str | None = None
    retry_after_s: float | None = None
    error: str | None = None


def post(policy: HostPolicy, url: str, body: bytes, headers: dict[str, str], timeout_s: float) -> Answer:
    """POST to an address the policy admits for url (resolved once, connected to as resolved: pinned).

    Redirects are not followed (a 3xx could point anywhere); TLS still checks the certificate of url's host.
    """
    try:
        address = str(policy.check_url(url)[0])
    except HostNotAllowed as exc:
        return Answer(None, error=f"refused by WEBHOOK_ALLOWED_HOSTS: {exc}")
    parts = urlsplit(url)
    secure = parts.scheme == "https"
    port = parts.port or (443 if secure else 80)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    timeout = urllib3.Timeout(connect=min(timeout_s, 5), read=timeout_s)
    pool: urllib3.HTTPConnectionPool
    if secure:
        pool = urllib3.HTTPSConnectionPool(
            address, port, timeout=timeout, retries=False, server_hostname=parts.hostname,
            assert_hostname=parts.hostname, cert_reqs="CERT_REQUIRED",
        )  # fmt: skip
    else:
        pool = urllib3.HTTPConnectionPool(address, port, timeout=timeout, retries=False)
    host = parts.netloc.rsplit("@", 1)[-1]
    all_headers = {**headers, "Host": host, "Content-Type": "application/json", "User-Agent": USER_AGENT}
    try:
        response = pool.urlopen("POST", path, body=body, headers=all_headers, redirect=False, preload_content=False)
        try:
            excerpt = response.read(RESPONSE_EXCERPT_BYTES).decode("utf-8", "replace")
        finally:
            response.release_conn()
    except Exception as exc:  # refused, reset, timed out, TLS: the receiver did not answer
        return Answer(None, error=f"{exc.__class__.__name__}: {exc}"[:500])
    finally:
        pool.close()
    return Answer(response.status, excerpt, retry_after(response.headers.get("Retry-After")))


def retry_after(value: str | None) -> float | None:
    """Retry-After in seconds: delta-seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, (parsedate_to_datetime(value) - utcnow()).total_seconds())
    except (TypeError, ValueError):
        return None


def next_delay(settings: SchedulerSettings, retries: int, answer: Answer) -> float | None:
    """Seconds until the next retry (jittered, at least Retry-After), or None when the schedule is used up."""
    delays = settings.webhook_retry_delays_s
    if retries >= len(delays):
        return None
    delay = delays[retries] * random.uniform(0.9, 1.1)
    if answer.retry_after_s is not None:
        delay = max(delay, min(answer.retry_after_s, max(delays)))
    return delay


def attempt(session: Session, settings: SchedulerSettings, webhook: Webhook, delivery: WebhookDelivery) -> str:
    """Send the delivery once and record the outcome; its state afterwards."""
    delivery.attempts += 1
    delivery.next_attempt_at = utcnow() + timedelta(seconds=settings.webhook_lease_s)
    session.commit()  # the lease: killed from here on, the delivery is due again when it passes
    body = delivery.body.encode()
    headers = signature_headers(signing_secrets(webhook), delivery.event_id, int(time.time()), body)
    started = time.monotonic()
    answer = post(settings.webhook_policy, webhook.url, body, headers, settings.webhook_timeout_s)
    duration_ms = int((time.monotonic() - started) * 1000)
    now = utcnow()
    entry = {"at": now.isoformat(), "status_code": answer.status_code, "duration_ms": duration_ms,
             "error": answer.error, "response": answer.response}  # fmt: skip
    delivery.log = [*(delivery.log or []), entry][-LOG_LIMIT:]
    if answer.status_code is not None and 200 <= answer.status_code < 300:
        delivery.state, delivery.delivered_at, delivery.next_attempt_at = DELIVERED, now, None
        webhook.failing_since = None
    elif answer.status_code == 410:
        delivery.state, delivery.next_attempt_at = DEAD, None
        disable(webhook, "the receiver answered 410 Gone")
    else:
        webhook.failing_since = webhook.failing_since or now
        delay = next_delay(settings, delivery.retries, answer)
        if delay is None:
            delivery.state, delivery.next_attempt_at = DEAD, None
        else:
            delivery.retries += 1
            delivery.next_attempt_at = now + timedelta(seconds=delay)
        failing_for = (now - webhook.failing_since).total_seconds()
        if failing_for >= settings.webhook_disable_after_s:
            disable(webhook, f"every delivery failed for {failing_for / 86400:.1f} days")
    session.commit()
    log.info("webhook %s delivery %s attempt %d: %s", webhook.id, delivery.id, delivery.attempts, entry["status_code"])
    return delivery.state


def disable(webhook: Webhook, reason: str) -> None:
    webhook.enabled, webhook.disabled_reason = False, reason
    log.warning("webhook %s disabled: %s", webhook.id, reason)


def signing_secrets(webhook: Webhook) -> list[str]:
    """The secrets a delivery is signed with now: the current one first, the previous one while valid."""
    still_valid = webhook.previous_secret_expires_at is not None and webhook.previous_secret_expires_at > utcnow()
    return [webhook.secret] + ([webhook.previous_secret] if webhook.previous_secret and still_valid else [])


def deliver_due(session: Session, settings: SchedulerSettings, redis: Redis, webhook_id: str) -> dict:
    """Send the webhook's due deliveries, oldest first, while holding its lock; the counts by outcome."""
    lock = redis.lock(names.WEBHOOK_LOCK_KEY.format(webhook_id=webhook_id), timeout=settings.webhook_lease_s)
    if not lock.acquire(blocking=False):
        return {"skipped": "another worker is sending this webhook's deliveries"}
    counts: dict = {DELIVERED: 0, PENDING: 0, DEAD: 0}
    deadline = time.monotonic() + DELIVER_BUDGET_S
    try:
        while time.monotonic() < deadline:
            webhook = session.get(Webhook, webhook_id)
            if webhook is None or not webhook.enabled:
                break
            delivery = next_due(session, webhook_id, utcnow())
            if delivery is None:
                break
            lock.reacquire()  # each attempt gets the whole lease
            counts[attempt(session, settings, webhook, delivery)] += 1
    finally:
        session.rollback()
        try:
            lock.release()
        except Exception:  # expired or Redis away: it lapses by itself
            log.debug("webhook lock %s not released", webhook_id, exc_info=True)
    return counts


def next_due(session: Session, webhook_id: str, now: datetime) -> WebhookDelivery | None:
    """The webhook's oldest pending delivery that is due (in creation order: deliveries go out in order)."""
    query = (
        select(WebhookDelivery)
        .where(WebhookDelivery.webhook_id == webhook_id, WebhookDelivery.state == PENDING)
        .where(WebhookDelivery.next_attempt_at <= now)
        .order_by(WebhookDelivery.created_at, WebhookDelivery.id)
        .limit(1)
    )
    return session.execute(query).scalar_one_or_none()


def due_webhooks(session: Session, now: datetime) -> list[str]:
    """The enabled webhooks with a delivery due (what the sweep sends deliver() for)."""
    query = (
        select(WebhookDelivery.webhook_id)
        .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
        .where(WebhookDelivery.state == PENDING, WebhookDelivery.next_attempt_at <= now, Webhook.enabled.is_(True))
        .distinct()
    )
    webhook_ids = list(session.execute(query).scalars())
    session.rollback()
    return webhook_ids
