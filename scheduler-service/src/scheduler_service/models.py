"""Tables the scheduler service owns: cron schedules, system job runs, webhooks and their deliveries."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from scheduler_service.cron import next_fire_times
from shared.db import OwnedColumns, UTCDateTime, make_base, new_id, utcnow

Base = make_base()
NEXT_FIRE_COUNT = 5


class Schedule(OwnedColumns, Base):
    __tablename__ = "schedules"

    # The owner's role when the schedule was created: a firing runs with it.
    owner_role: Mapped[str] = mapped_column(String(16), default="tester")
    cron: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    target: Mapped[dict] = mapped_column(JSON, default=dict)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    last_fired_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_outcome: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    # The latest cron slot that fired or that an edit passed over: a slot fires only
    # if it is later, and claiming it is one conditional UPDATE (once per slot).
    last_slot_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    @property
    def next_fire_times(self) -> list[datetime]:
        """The next NEXT_FIRE_COUNT fire times from now, in UTC."""
        return next_fire_times(self.cron, self.timezone, utcnow(), NEXT_FIRE_COUNT)


class JobRun(Base):
    """One execution of a system job (cleanup, reaper) as reported back by a service."""

    __tablename__ = "job_runs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    job: Mapped[str] = mapped_column(String(100), index=True)
    service: Mapped[str] = mapped_column(String(50))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    outcome: Mapped[dict] = mapped_column(JSON, default=dict)


class Webhook(OwnedColumns, Base):
    """Where events are POSTed: a URL, which events (and of which targets), in which body format.

    The signing secret is shown once, at creation or rotation; the previous one signs too until
    previous_secret_expires_at, so a receiver can switch without losing a delivery.
    """

    __tablename__ = "webhooks"

    # The owner's role at creation: an admin's webhook hears of every run, a tester's of their own.
    owner_role: Mapped[str] = mapped_column(String(16), default="tester")
    url: Mapped[str] = mapped_column(String(2000))
    events: Mapped[list] = mapped_column(JSON, default=list)
    # {kinds: [...], project_ids: [...], script_ids: [...], scenario_ids: [...]}; an empty list matches all.
    filters: Mapped[dict] = mapped_column(JSON, default=dict)
    format: Mapped[str] = mapped_column(String(16), default="json")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    secret: Mapped[str] = mapped_column(String(100))
    previous_secret: Mapped[str | None] = mapped_column(String(100), nullable=True)
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Why the platform disabled it (a 410, or failures for too long); cleared when a user enables it again.
    disabled_reason: Mapped[str | None] = mapped_column(String(500), nullable=True)
    # The first failed attempt since the last success: failures for webhook_disable_after_s disable it.
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class WebhookDelivery(Base):
    """One event for one webhook: the exact body it sends, every attempt, and when to try next.

    state: pending (waiting for its next attempt at next_attempt_at), delivered, or dead (no retry left).
    An attempt first moves next_attempt_at a lease ahead, so a worker killed while sending leaves a
    delivery the sweep finds due again once the lease has passed (webhook_delivery.py).
    """

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("webhook_id", "event_id", name="uq_webhook_deliveries_event"),
        Index("ix_webhook_deliveries_due", "state", "next_attempt_at"),
        Index("ix_webhook_deliveries_log", "webhook_id", "created_at", "id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    webhook_id: Mapped[str] = mapped_column(String(32), ForeignKey("webhooks.id", ondelete="CASCADE"))
    event_id: Mapped[str] = mapped_column(String(64))
    event_type: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Retries used from the schedule; a redeliver starts the schedule again.
    retries: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # The attempts, oldest first: {at, status_code, duration_ms, error, response}.
    log: Mapped[list] = mapped_column(JSON, default=list)
