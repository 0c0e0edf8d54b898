"""HTTP shapes of the personal-data requests (access and erasure)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from promo.checkout.schemas import CustomerEmail, CustomerId
from promo.schemas import CustomerRef, Schema


class CustomerIdentity(Schema):
    """The person, as a checkout names it: its id, its e-mail, or both."""

    customer_id: CustomerId | None = None
    customer_email: CustomerEmail | None = None


class HeldRedemption(Schema):
    id: str
    campaign_id: str
    order_id: str
    created_at: datetime
    status: Literal["active", "partially_refunded", "rolled_back"]


class HeldUsage(Schema):
    """Uses of a campaign counted under one ref (an id and its e-mail both count)."""

    campaign_id: str
    customer_ref: CustomerRef
    used: int


class HeldOrders(Schema):
    """Live redemptions under one ref (what makes an order not the first)."""

    customer_ref: CustomerRef
    live: int


class CustomerHoldings(Schema):
    """What promo holds about an identity; never the identity itself, which
    is stored nowhere (promo.pii)."""

    # The identity's refs found in storage (one per key it was stored under).
    customer_refs: list[CustomerRef]
    # Refs filed beside them on the same redemptions (the e-mail of an id):
    # the same person, erased with it.
    linked_refs: list[CustomerRef]
    redemptions: list[HeldRedemption]
    redemptions_total: int
    usage: list[HeldUsage]
    orders: list[HeldOrders]
    # Campaigns whose allow-list names the person.
    allow_lists: list[str]
    # Idempotency-Key answers that mention it (kept for the retention period).
    stored_answers: int


class Erasure(Schema):
    """What an erasure changed: each count is of rows whose ref became a tombstone."""

    erased_refs: int
    redemptions: int
    usage_counters: int
    order_counters: int
    allow_lists: int
    stored_answers: int
    bound_codes: int
    """Codes bound to the customer (promo.codes.binding)."""
