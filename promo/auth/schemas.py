"""HTTP shapes of API keys."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

from promo.auth.models import ApiKey
from promo.auth.roles import Role
from promo.ids import Kind, encode
from promo.schemas import NO_NUL, Schema


class KeyCreate(Schema):
    role: Role
    affiliate_id: Annotated[str, msgspec.Meta(max_length=64)] | None = None
    name: Annotated[str, msgspec.Meta(max_length=200, pattern=NO_NUL)] = ""


class KeyRead(Schema):
    id: str
    role: Role
    affiliate_id: str | None
    name: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None


class KeyCreated(KeyRead):
    key: str
    """The API key itself; shown this once, only its hash is stored."""


class KeyPage(Schema):
    items: list[KeyRead]
    next_cursor: str | None


def key_fields(key: ApiKey) -> dict[str, object]:
    return {
        "id": encode(Kind.API_KEY, key.id),
        "role": Role(key.role),
        "affiliate_id": encode(Kind.AFFILIATE, key.affiliate_id) if key.affiliate_id else None,
        "name": key.name,
        "prefix": key.prefix,
        "created_at": key.created_at,
        "revoked_at": key.revoked_at,
    }


def key_read(key: ApiKey) -> KeyRead:
    return KeyRead(**key_fields(key))  # type: ignore[arg-type]
