"""HTTP shapes of conversions (``/v1/conversions``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

from promo.plans.schemas import ActionKind
from promo.schemas import NO_NUL, Amount, Schema

ExternalId = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=128,
        pattern=NO_NUL,
        description="Your id of the action; unique per kind (a second report is refused)",
    ),
]
PublicId = Annotated[str, msgspec.Meta(max_length=64)]


class ConversionCreate(Schema):
    """Credit one action to an affiliate: through its ``code`` (the campaign's
    terms apply as for its sales) or directly (``affiliate_id``: its own plan).
    ``kind`` ``assist``: a prescriber's fee beside the affiliate whose code
    closed ``order_id``."""

    kind: ActionKind
    external_id: ExternalId
    code: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] | None = None
    affiliate_id: PublicId | None = None
    value: Amount | None = None
    """What the action is worth to you (reported, not priced on), in the plan's currency."""
    order_id: Annotated[str, msgspec.Meta(min_length=1, max_length=128, pattern=NO_NUL)] | None = (
        None
    )


class ConversionReject(Schema):
    reason: Annotated[str, msgspec.Meta(max_length=500, pattern=NO_NUL)] | None = None


class ConversionRead(Schema):
    id: str
    kind: str
    external_id: str
    affiliate_id: str
    code: str | None
    campaign_id: str | None
    order_id: str | None
    value: int | None
    currency: str
    commission: int
    plan_id: str
    plan_revision: int
    status: Literal["pending", "approved", "rejected"]
    available_at: datetime
    created_at: datetime
    rejected_at: datetime | None
    reject_reason: str | None


class ConversionPage(Schema):
    items: list[ConversionRead]
    next_cursor: str | None
