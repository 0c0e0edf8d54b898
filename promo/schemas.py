"""The base of every msgspec Struct at the HTTP edge, the bounded money types,
and cursor pagination.

Inputs reject unknown fields (422 naming the field). Outputs keep explicit
nulls so clients see every field of the contract. Every amount a client
sends is one of the types below, so the bounds of ``promo.money`` hold at
every edge.
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated

import msgspec

from promo.errors import Invalid, StructFieldError
from promo.money import MAX_AMOUNT, MAX_QUANTITY
from promo.pii import REF_PATTERN

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
# PostgreSQL text cannot hold U+0000: text that is stored or looked up refuses it
# here (422 naming the field) rather than in the database (a 500).
NO_NUL = r"^[^\x00]*$"

Amount = Annotated[int, msgspec.Meta(ge=0, le=MAX_AMOUNT, description="Minor units")]
PositiveAmount = Annotated[int, msgspec.Meta(ge=1, le=MAX_AMOUNT, description="Minor units")]
SignedAmount = Annotated[
    int, msgspec.Meta(ge=-MAX_AMOUNT, le=MAX_AMOUNT, description="Minor units")
]
Quantity = Annotated[int, msgspec.Meta(ge=1, le=MAX_QUANTITY)]
# A customer as promo stores and answers it: a keyed hash of its id or e-mail
# (promo.pii), or a tombstone once erased; never the identity itself.
CustomerRef = Annotated[
    str,
    msgspec.Meta(
        pattern=REF_PATTERN,
        description="Opaque reference to a customer: <key id>:<keyed hash>",
        examples=["1:2b1X0fQk1v5m9G0s7m0rR8kP3lQ6u0jZr2yF4tH8aLc"],
    ),
]

# Ids are bigint keys: a cursor past the largest one would overflow the query's
# parameter (a 500), so it is refused with the other malformed cursors.
MAX_ID = 2**63 - 1
_CURSOR = re.compile(r"v1:([0-9]{1,19})")


class Schema(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Base Struct of request and response bodies."""


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"v1:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int | None:
    """The id after which the next page starts; 422 ``invalid_cursor`` on garbage."""
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        match = _CURSOR.fullmatch(raw)
        if match is None or int(match[1]) > MAX_ID:
            raise ValueError(raw)
        return int(match[1])
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise Invalid.field(
            "cursor", "not a cursor returned by this API", "invalid_cursor"
        ) from None


def next_cursor(ids: list[int], limit: int) -> str | None:
    """A cursor when the page is full (there may be more), else None."""
    return encode_cursor(ids[-1]) if len(ids) == limit and ids else None


def instant(name: str, value: str | None) -> datetime | None:
    """A query parameter's RFC 3339 instant in UTC; 422 naming ``name`` otherwise."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise Invalid.field(name, "not an RFC 3339 instant") from None
    return utc_instant(name, parsed)


def utc_instant(name: str, value: datetime) -> datetime:
    """The UTC instant of ``value``; 422 when it has no offset or no UTC form."""
    if value.tzinfo is None:
        raise Invalid.field(name, "needs a UTC offset (e.g. 2026-07-01T00:00:00Z)")
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise Invalid.field(name, "out of range once converted to UTC") from None


_CENT = Decimal("0.01")


def check_percent(field: str, percent: Decimal, *, allow_zero: bool) -> None:
    """The contract's percentage rule (at most 2 places, up to 100): campaigns'
    discounts and commissions, affiliates', commission plans'."""
    if not percent.is_finite() or percent != percent.quantize(_CENT):
        raise Invalid.field(field, "at most 2 decimal places")
    low_ok = percent >= 0 if allow_zero else percent > 0
    if not low_ok or percent > 100:
        bound = "0 <= percent" if allow_zero else "0 < percent"
        raise Invalid.field(field, f"must satisfy {bound} <= 100")


# Shapes shared by the catalogue's schemas (campaigns, commission plans).
Percent = Annotated[
    Decimal,
    msgspec.Meta(description="0 < p <= 100, at most 2 decimal places; JSON number or string"),
]
Currency = Annotated[str, msgspec.Meta(pattern="^[A-Z]{3}$", description="ISO 4217 code")]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=NO_NUL)]
Token = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=NO_NUL)]


def check_reach(field: str, percent: Decimal | None) -> None:
    """Refuse a percentage too large to be rounded to cents (``1e999999``).

    The exact rule (0 < p <= 100, two places) is the service's, which names the
    field; a number this far out would break its rounding instead (a 500).
    """
    if percent is not None and percent.is_finite() and percent.adjusted() >= 3:
        raise StructFieldError(field, "must satisfy 0 < percent <= 100")
