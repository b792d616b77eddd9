"""Request and response bodies of /api/v1/webhooks (pydantic), and the event envelope they deliver."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.pagination import Page

# What a run's lifecycle emits (docs/api.md, "Webhooks").
EventType = Literal["run.queued", "run.started", "run.finished", "run.became_failing", "run.became_passing"]
EVENT_TYPES: tuple[str, ...] = EventType.__args__  # type: ignore[attr-defined]
RunKindName = Literal["web", "project", "perf"]
Format = Literal["json", "slack", "teams"]


class Event(BaseModel):
    """The envelope every delivery carries (format json); `id` is also the webhook-id header."""

    id: str = Field(description="evt_ and 32 hex digits; the same on every retry and redelivery")
    type: str = Field(description="one of the event types, or webhook.test")
    created_at: datetime
    data: dict[str, Any]


class Filters(BaseModel):
    """Which runs a webhook hears of; an empty (or missing) list matches every run."""

    model_config = ConfigDict(extra="forbid", strict=True)

    kinds: list[RunKindName] = Field(default_factory=list, max_length=3)
    project_ids: list[str] = Field(default_factory=list, max_length=100)
    script_ids: list[str] = Field(default_factory=list, max_length=100)
    scenario_ids: list[str] = Field(default_factory=list, max_length=100)


class WebhookCreate(BaseModel):
    """POST body. The URL must be http(s) and pass WEBHOOK_ALLOWED_HOSTS (checked by the service)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    name: str = Field(min_length=1, max_length=300)
    url: str = Field(min_length=1, max_length=2000, pattern=r"^https?://")
    events: list[EventType] = Field(default_factory=lambda: list(EVENT_TYPES), min_length=1, max_length=5)
    filters: Filters = Field(default_factory=Filters)
    format: Format = "json"
    enabled: bool = True


class WebhookPatch(BaseModel):
    """PATCH body: only the fields given change (enabled true also clears disabled_reason)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    name: str | None = Field(default=None, min_length=1, max_length=300)
    url: str | None = Field(default=None, min_length=1, max_length=2000, pattern=r"^https?://")
    events: list[EventType] | None = Field(default=None, min_length=1, max_length=5)
    filters: Filters | None = None
    format: Format | None = None
    enabled: bool | None = None


class WebhookRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    owner: str
    name: str
    url: str
    events: list[str]
    filters: Filters
    format: Format
    enabled: bool
    disabled_reason: str | None
    failing_since: datetime | None
    previous_secret_expires_at: datetime | None = Field(description="until then the previous secret signs too")
    created_at: datetime
    updated_at: datetime


class WebhookWithSecret(WebhookRead):
    """The answer to a creation or a rotation: the only time the secret is shown."""

    secret: str = Field(description="whsec_ and base64; verify signatures with it (docs/api.md)")


class WebhookList(Page):
    items: list[WebhookRead]


class Attempt(BaseModel):
    at: datetime
    status_code: int | None = Field(description="the receiver's answer; null when it could not be reached")
    duration_ms: int
    error: str | None = None
    response: str | None = Field(default=None, description="the start of the response body")


class DeliveryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    webhook_id: str
    event_id: str = Field(description="the event's id, sent as webhook-id")
    event_type: str
    state: Literal["pending", "delivered", "dead"]
    attempts: int
    next_attempt_at: datetime | None
    created_at: datetime
    delivered_at: datetime | None
    log: list[Attempt] = Field(description="every attempt, oldest first")
    body: str = Field(description="the request body, exactly as sent")


class DeliveryList(Page):
    items: list[DeliveryRead]
