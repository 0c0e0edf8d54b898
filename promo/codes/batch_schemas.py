"""HTTP shapes of code batches."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Literal

import msgspec

from promo.campaigns.schemas import Instant
from promo.codes.canonical import MAX_DISPLAY_LENGTH
from promo.codes.schemas import MaxRedemptions, ValidFor
from promo.schemas import Schema

MAX_BATCH_COUNT = 10_000_000

BatchStatus = Literal["pending", "running", "done", "failed"]


class CodeBatchCreate(Schema):
    count: Annotated[int, msgspec.Meta(ge=1, le=MAX_BATCH_COUNT)]
    pattern: Annotated[
        str,
        msgspec.Meta(
            min_length=1,
            max_length=MAX_DISPLAY_LENGTH,
            description="'#' is one random character of the charset; the rest is literal "
            "(letters, digits, spaces, '-', '_'); 3-32 letters or digits per code",
            examples=["SUM-####-####"],
        ),
    ]
    charset: Annotated[
        str,
        msgspec.Meta(
            min_length=1,
            max_length=128,
            description="A preset (safe, alphanumeric, digits, letters) or explicit characters, "
            "canonicalised (O=0, I=L=1) and deduplicated",
        ),
    ] = "safe"
    max_redemptions_per_code: MaxRedemptions | None = 1
    affiliate_id: Annotated[str, msgspec.Meta(max_length=64)] | None = None
    valid_for: ValidFor | None = None
    """Each code expires this long after the batch is issued (or give expires_at)."""
    expires_at: Instant | None = None
    """When every code of the batch expires (or give valid_for)."""


class CustomerCodesCreate(Schema):
    """How to issue one code per customer of an uploaded list (the query of
    ``POST /v1/campaigns/{id}/code-batches/customers``; the list is the body)."""

    pattern: Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_DISPLAY_LENGTH)]
    charset: Annotated[str, msgspec.Meta(min_length=1, max_length=128)] = "safe"
    max_redemptions_per_code: MaxRedemptions | None = 1
    valid_for: ValidFor | None = None
    expires_at: Instant | None = None


class CodeBatchPatch(Schema):
    active: bool


class CodeBatchRead(Schema):
    id: str
    campaign_id: str
    pattern: str
    canonical_pattern: str
    charset: str
    count: int
    generated: int
    percent: float
    status: BatchStatus
    error: str | None
    max_redemptions_per_code: int | None
    affiliate_id: str | None
    created_at: datetime
    finished_at: datetime | None
    valid_for: timedelta | None
    """How long each code lasts after the batch was issued, as asked (ISO 8601)."""
    expires_at: datetime | None
    """When the batch's codes expire (null: with their campaign)."""
    customers_until: datetime | None
    """Set when the batch was issued to a list of customers (one code each, bound
    to it): until when ``customers.csv`` (customer as given, code) can be
    downloaded; then the list as given is deleted."""


class CodeBatchPage(Schema):
    items: list[CodeBatchRead]
    next_cursor: str | None


class CodeBatchPatched(Schema):
    """What ``PATCH /v1/code-batches/{id}`` did: every code of the batch set to ``active``."""

    batch: CodeBatchRead
    active: bool
    codes_updated: int
