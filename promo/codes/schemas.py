"""HTTP shapes of codes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec
from msgspec import UNSET, UnsetType

from promo.codes.canonical import MAX_DISPLAY_LENGTH
from promo.schemas import Schema

CodeKind = Literal["vanity", "dedicated", "alias", "batch"]
MaxRedemptions = Annotated[int, msgspec.Meta(ge=1, le=2**31 - 1)]
CodeText = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=MAX_DISPLAY_LENGTH,
        description="Letters, digits, spaces, '-' and '_'; 3-32 letters or digits",
    ),
]


class CodeCreate(Schema):
    code: CodeText
    max_redemptions: MaxRedemptions | None = None
    affiliate_id: Annotated[str, msgspec.Meta(max_length=64)] | None = None


class CodePatch(Schema):
    active: bool | UnsetType = UNSET
    max_redemptions: MaxRedemptions | UnsetType | None = UNSET


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
    created_at: datetime


class CodePage(Schema):
    items: list[CodeRead]
    next_cursor: str | None


class DedicatedCodeCreate(Schema):
    """Ask for an affiliate's dedicated code for a campaign, and optionally an alias."""

    campaign_id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    alias: CodeText | None = None


class DedicatedCodeRead(Schema):
    code: CodeRead
    """The affiliate's dedicated code for the campaign: the same one every time."""
    alias: CodeRead | None
    """The alias asked for in this request, or null when none was asked for."""
