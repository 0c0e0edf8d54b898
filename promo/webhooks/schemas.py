"""HTTP shapes of webhook subscriptions, their deliveries and redeliveries."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec
from msgspec import UNSET, UnsetType

from promo.campaigns.schemas import Instant
from promo.schemas import NO_NUL, Schema

# The types a subscription may name (promo.events.outbox.EventType).
EventName = Literal[
    "redemption.created",
    "redemption.refunded",
    "redemption.rolled_back",
    "payout.created",
    "code_batch.completed",
    "code_batch.failed",
    "commission.available",
    "campaign.budget_threshold",
    "conversion.created",
    "conversion.rejected",
    "referral.rewarded",
    "referral.revoked",
]
Url = Annotated[str, msgspec.Meta(min_length=1, max_length=2000, pattern=NO_NUL)]
EventNames = Annotated[list[EventName], msgspec.Meta(min_length=1, max_length=20)]
Description = Annotated[str, msgspec.Meta(max_length=500, pattern=NO_NUL)]
PublicId = Annotated[str, msgspec.Meta(max_length=64)]


class WebhookCreate(Schema):
    url: Url
    events: EventNames
    description: Description = ""


class WebhookPatch(Schema):
    url: Url | UnsetType = UNSET
    events: EventNames | UnsetType = UNSET
    description: Description | UnsetType = UNSET
    # false disables the subscription; true enables it again (and forgets its failures).
    active: bool | UnsetType = UNSET


class WebhookRead(Schema):
    id: str
    url: str
    events: list[str]
    description: str
    status: Literal["active", "disabled"]
    # Why it is disabled: by whom, or which failures (null while active).
    disabled_reason: str | None
    disabled_at: datetime | None
    # The first failed attempt since the last success (null when none failed).
    failing_since: datetime | None
    # After a rotation, until when the previous secret also signs.
    previous_secret_expires_at: datetime | None
    created_at: datetime
    updated_at: datetime


class WebhookWithSecret(WebhookRead, kw_only=True):
    """The subscription and its signing secret: shown this once."""

    secret: str


class WebhookPage(Schema):
    items: list[WebhookRead]
    next_cursor: str | None


class SecretRotation(Schema):
    # How long the previous secret keeps signing beside the new one (0: not at all).
    keep_previous_hours: Annotated[int, msgspec.Meta(ge=0, le=168)] = 24


class AttemptRead(Schema):
    id: str
    delivery_id: str
    event_id: str
    event_type: str
    # 1 for the first attempt of its delivery.
    attempt: int
    started_at: datetime
    latency_ms: int
    status_code: int | None
    # The start of the receiver's answer.
    response: str | None
    error: str | None
    outcome: Literal["delivered", "retrying", "failed"]
    # The delivery as it is now, and when its next attempt is due.
    delivery_status: Literal["pending", "delivered", "failed"]
    next_attempt_at: datetime | None
    manual: bool


class AttemptPage(Schema):
    items: list[AttemptRead]
    next_cursor: str | None


class Redelivery(Schema):
    """One event (``event_id``) or every event the subscription wants from ``from``
    (inclusive) to ``to`` (exclusive), by when they happened."""

    event_id: PublicId | None = None
    from_: Instant | None = msgspec.field(default=None, name="from")
    to: Instant | None = None


class RedeliveryQueued(Schema):
    # How many deliveries were queued (one per event).
    deliveries: int
