"""HTTP shapes of codes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from msgspec import UNSET, UnsetType

from promo.codes.canonical import MAX_DISPLAY_LENGTH
from promo.schemas import Schema

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
    affiliate_id: str | None = None


class CodePatch(Schema):
    active: bool | UnsetType = UNSET
    max_redemptions: MaxRedemptions | UnsetType | None = UNSET


class CodeRead(Schema):
    code: str
    canonical: str
    campaign_id: str
    affiliate_id: str | None
    max_redemptions: int | None
    used: int
    active: bool
    created_at: datetime


class CodePage(Schema):
    items: list[CodeRead]
    next_cursor: str | None
