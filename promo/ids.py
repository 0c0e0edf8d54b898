"""Opaque public ids: ``cmp_x8Kq2p`` outside, integer primary keys inside.

Ids are not secrets; they are opaque so that clients do not build on integer
arithmetic and neighbouring records are not obvious. The salts are fixed
(changing them would change every public id), unlike the dedicated-code salt
which comes from settings.
"""

from __future__ import annotations

from enum import StrEnum
from functools import cache, lru_cache

from hashids import Hashids

from promo.errors import NotFound

ALPHABET = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"


class Kind(StrEnum):
    """The prefix of each kind of public id."""

    CAMPAIGN = "cmp"
    AFFILIATE = "aff"
    API_KEY = "key"
    CODE_BATCH = "bat"
    REDEMPTION = "red"
    LEDGER_ENTRY = "led"
    PAYOUT = "pay"


@cache
def _hashids(kind: Kind) -> Hashids:
    return Hashids(salt=f"promo:{kind.value}", min_length=8, alphabet=ALPHABET)


@lru_cache(maxsize=16_384)
def encode(kind: Kind, value: int) -> str:
    """Cached: hashids takes ~50 µs per id, and the same campaigns, affiliates and
    keys are named in answer after answer."""
    return f"{kind.value}_{_hashids(kind).encode(value)}"


def decode(kind: Kind, public_id: str) -> int | None:
    """The integer behind a public id, or None when it is not one of ``kind``."""
    prefix, _, body = public_id.partition("_")
    if prefix != kind.value or not body or len(body) > 32:
        return None
    values = _hashids(kind).decode(body)
    if len(values) != 1:
        return None
    # Hashids decodes some foreign strings to numbers; only the canonical
    # encoding is accepted so each record has exactly one public id.
    return int(values[0]) if _hashids(kind).encode(values[0]) == body else None


_MISSING: dict[Kind, tuple[str, str]] = {
    Kind.CAMPAIGN: ("campaign_not_found", "No such campaign"),
    Kind.AFFILIATE: ("affiliate_not_found", "No such affiliate"),
    Kind.API_KEY: ("key_not_found", "No such API key"),
    Kind.CODE_BATCH: ("batch_not_found", "No such code batch"),
    Kind.REDEMPTION: ("redemption_not_found", "No such redemption"),
    Kind.LEDGER_ENTRY: ("ledger_entry_not_found", "No such ledger entry"),
    Kind.PAYOUT: ("payout_not_found", "No such payout"),
}


def require(kind: Kind, public_id: str) -> int:
    """The integer behind ``public_id``; 404 ``<kind>_not_found`` when it is not one."""
    value = decode(kind, public_id)
    if value is None:
        raise NotFound(*_MISSING[kind])
    return value


def optional(kind: Kind, public_id: str | None) -> int | None:
    """``require`` for an optional id (a filter or an optional body field)."""
    return None if public_id is None else require(kind, public_id)
