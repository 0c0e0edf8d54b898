"""The base of every msgspec Struct at the HTTP edge, and cursor pagination.

Inputs reject unknown fields (422 naming the field). Outputs keep explicit
nulls so clients see every field of the contract.
"""

from __future__ import annotations

import base64
import binascii

import msgspec

from promo.errors import Invalid

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
# PostgreSQL text cannot hold U+0000: text that is stored or looked up refuses it
# here (422 naming the field) rather than in the database (a 500).
NO_NUL = r"^[^\x00]*$"


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
        version, _, value = raw.partition(":")
        if version != "v1" or not value.isdigit() or len(value) > 19:
            raise ValueError(raw)
        return int(value)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise Invalid.field(
            "cursor", "not a cursor returned by this API", "invalid_cursor"
        ) from None


def next_cursor(ids: list[int], limit: int) -> str | None:
    """A cursor when the page is full (there may be more), else None."""
    return encode_cursor(ids[-1]) if len(ids) == limit and ids else None
