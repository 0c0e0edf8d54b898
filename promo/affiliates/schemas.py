"""HTTP shapes of affiliates (API.md "Affiliates").

The commission plan reuses the campaign's ``Commission`` shape: an affiliate's
plan, when set, overrides the campaign's default for that affiliate's codes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from msgspec import UNSET, UnsetType

from promo.campaigns.schemas import Amount, Commission, Name
from promo.schemas import Schema

Email = Annotated[
    str,
    msgspec.Meta(
        min_length=3,
        max_length=320,
        pattern=r"^[^@\s\x00]+@[^@\s\x00]+$",
        description="Used for self-referral checks (canonical form: +tag and Gmail dots dropped)",
    ),
]
# Keys are checked by the service (ISO 4217, upper case): a msgspec constraint
# on dict keys would report no field path.
PayoutThresholds = Annotated[
    dict[str, Amount],
    msgspec.Meta(
        max_length=200,
        description="Smallest balance paid out, per ISO 4217 currency, in minor units; "
        "a currency without one is paid at any positive balance",
    ),
]
HoldingDays = Annotated[
    int, msgspec.Meta(ge=0, le=3650, description="Days before a commission is approved")
]


class AffiliateCreate(Schema):
    name: Name
    email: Email
    commission: Commission | None = None
    payout_thresholds: PayoutThresholds = msgspec.field(default_factory=dict)
    holding_days: HoldingDays = 30
    create_key: bool = False
    """Also create an ``affiliate`` API key for it, shown once in the answer."""


class AffiliatePatch(Schema):
    """Only the fields sent change; ``{"active": false}`` deactivates."""

    name: Name | UnsetType = UNSET
    email: Email | UnsetType = UNSET
    commission: Commission | UnsetType | None = UNSET
    payout_thresholds: PayoutThresholds | UnsetType = UNSET
    holding_days: HoldingDays | UnsetType = UNSET
    active: bool | UnsetType = UNSET


class AffiliateRead(Schema):
    id: str
    name: str
    email: str
    commission: Commission | None
    """Null: the campaign's default commission applies."""
    payout_thresholds: dict[str, int]
    holding_days: int
    active: bool
    created_at: datetime
    updated_at: datetime


class AffiliateCreated(AffiliateRead):
    key: str | None
    """The affiliate's API key when ``create_key`` was set; shown this once."""


class AffiliatePage(Schema):
    items: list[AffiliateRead]
    next_cursor: str | None
