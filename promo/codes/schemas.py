"""HTTP shapes of codes."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Literal

import msgspec
from msgspec import UNSET, UnsetType

from promo.campaigns.schemas import Instant
from promo.codes.canonical import MAX_DISPLAY_LENGTH
from promo.schemas import NO_NUL, Schema

CodeKind = Literal["vanity", "dedicated", "alias", "batch", "referral", "automatic"]
MaxRedemptions = Annotated[int, msgspec.Meta(ge=1, le=2**31 - 1)]
CodeText = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=MAX_DISPLAY_LENGTH,
        description="Letters, digits, spaces, '-' and '_'; 3-32 letters or digits",
    ),
]

# A token, stored lower-cased (``Instagram`` is ``instagram``): it starts with a
# letter or digit, so a spreadsheet never reads it as a formula.
CHANNEL_PATTERN = "^[A-Za-z0-9][A-Za-z0-9_-]*$"
Channel = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=32,
        pattern=CHANNEL_PATTERN,
        description="Where the code is broadcast: a token of letters, digits, '-' and '_' "
        "(at most 32, starting with a letter or digit), stored lower-cased",
        examples=["instagram"],
    ),
]


CustomerId = Annotated[str, msgspec.Meta(min_length=1, max_length=128, pattern=NO_NUL)]
CustomerEmail = Annotated[str, msgspec.Meta(min_length=3, max_length=254, pattern=NO_NUL)]
ValidFor = Annotated[
    timedelta,
    msgspec.Meta(
        description="An ISO 8601 duration (days, hours, minutes, seconds: P30D, PT12H), "
        "from PT1S to P3650D: each code expires that long after it is issued",
        examples=["P30D"],
    ),
]


class CodeCreate(Schema):
    code: CodeText
    max_redemptions: MaxRedemptions | None = None
    affiliate_id: Annotated[str, msgspec.Meta(max_length=64)] | None = None
    channel: Channel | None = None
    starts_at: Instant | None = None
    """The code's own start, within its campaign's window (null: the campaign's)."""
    expires_at: Instant | None = None
    """The code's own end, within its campaign's window (null: the campaign's)."""
    customer_id: CustomerId | None = None
    """Binds the code to this one customer (stored as its ref only); or customer_email."""
    customer_email: CustomerEmail | None = None
    """Binds the code to this one customer (stored as its ref only); or customer_id."""


class CodePatch(Schema):
    active: bool | UnsetType = UNSET
    max_redemptions: MaxRedemptions | UnsetType | None = UNSET
    channel: Channel | UnsetType | None = UNSET
    """The code's channel label; null removes it."""
    starts_at: Instant | UnsetType | None = UNSET
    """The code's own start; null: the campaign's."""
    expires_at: Instant | UnsetType | None = UNSET
    """The code's own end; null: the campaign's."""


class MyCodePatch(Schema):
    """What an affiliate may change on its own codes."""

    channel: Channel | None
    """The code's channel label; null removes it."""


class CodeRead(Schema):
    code: str
    canonical: str
    kind: CodeKind
    """vanity (typed by a marketer), dedicated or alias (an affiliate's), batch (generated)."""
    campaign_id: str
    affiliate_id: str | None
    max_redemptions: int | None
    used: int
    active: bool
    channel: str | None
    """Where the code is broadcast (instagram, podcast, ...); performance reports group by it."""
    created_at: datetime
    starts_at: datetime | None
    """The code's own start (null: its campaign's); it applies within the campaign's window."""
    expires_at: datetime | None
    """The code's own end (null: its campaign's); it applies within the campaign's window."""
    bound: bool
    """Whether the code is for one customer only (who is never shown)."""


class CodePage(Schema):
    items: list[CodeRead]
    next_cursor: str | None


class DedicatedCodeCreate(Schema):
    """Ask for an affiliate's dedicated code for a campaign, and optionally an alias."""

    campaign_id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    alias: CodeText | None = None
    channel: Channel | None = None
    """Labels the alias when one is asked for, else the dedicated code; absent
    or null leaves the label as it is."""


class DedicatedCodeRead(Schema):
    code: CodeRead
    """The affiliate's dedicated code for the campaign: the same one every time."""
    alias: CodeRead | None
    """The alias asked for in this request, or null when none was asked for."""
