"""HTTP shapes of referral programs (``/v1/referrals``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

from promo.checkout.schemas import CustomerEmail, CustomerId
from promo.schemas import Schema


class ReferralCreate(Schema):
    """The referrer, as the checkout knows it (hashed on arrival, never stored)."""

    campaign_id: Annotated[str, msgspec.Meta(max_length=64)]
    customer_id: CustomerId | None = None
    customer_email: CustomerEmail | None = None


class ReferralRead(Schema):
    code: str
    """The referrer's personal code: the same one every time it is asked for."""
    campaign_id: str
    customer_ref: str
    created_at: datetime


class Friend(Schema):
    """One friend's order with the code (no customer data)."""

    redemption_id: str
    ordered_at: datetime
    status: Literal["pending", "rewarded", "rolled_back", "not_rewarded"]
    """``pending``: within the holding period; ``not_rewarded``: past the
    referrer's maximum of rewards."""


class ReferralStatus(Schema):
    code: str
    campaign_id: str
    friends: list[Friend]
    rewards_earned: int
    rewards_pending: int
