"""Opaque public ids: ``cmp_3f9a0c71d2e4`` outside, integer primary keys inside.

Ids are not secrets; they are opaque so that clients do not build on integer
arithmetic and neighbouring records are not obvious. The low 48 bits of the
key go through a fixed bijection (four rounds of multiply and xorshift, then
a xor with a per-kind constant) and are written as 12 hex digits; the rare
higher bits (past 2**48 rows) are written before them in plain hex.

The scheme is chosen so that PostgreSQL can compute the same ids with a few
integer operations (``promo.db.public_ids``): the ledger export is produced
by the database, at the speed of the database, without a Python step per
row. Both sides take their constants from here.
"""

from __future__ import annotations

import hashlib
from enum import StrEnum

from promo.errors import NotFound

LOW_BITS = 48
LOW_MASK = (1 << LOW_BITS) - 1
LOW_DIGITS = LOW_BITS // 4
# x ^ (x >> 24) on 48 bits is its own inverse.
HALF = LOW_BITS // 2
# Odd, so invertible modulo 2**48; below 2**15, so that a 48-bit value times
# one stays inside PostgreSQL's signed 64-bit integers. Four rounds of
# multiply-then-xorshift flip about half the output bits for any input bit.
MULTIPLIERS = (0x5BD1, 0x6A0D, 0x4F1B, 0x7C35)
_INVERSES = tuple(pow(m, -1, 1 << LOW_BITS) for m in MULTIPLIERS)
_HEX = frozenset("0123456789abcdef")


class Kind(StrEnum):
    """The prefix of each kind of public id."""

    CAMPAIGN = "cmp"
    AFFILIATE = "aff"
    API_KEY = "key"
    CODE_BATCH = "bat"
    REDEMPTION = "red"
    LEDGER_ENTRY = "led"
    PAYOUT = "pay"
    JOB = "job"
    EVENT = "evt"
    WEBHOOK = "whk"
    DELIVERY = "dlv"
    ATTEMPT = "att"
    CONSOLE_USER = "usr"
    COMMISSION_PLAN = "cpl"
    CONVERSION = "cnv"
    CODE_IMPORT = "imp"
    RESERVATION = "res"


def kind_constant(kind: Kind) -> int:
    """The 48-bit value each kind's ids are xored with, so kinds do not share bodies."""
    digest = hashlib.blake2b(f"promo:{kind.value}".encode(), digest_size=6).digest()
    return int.from_bytes(digest, "big")


_CONSTANTS = {kind: kind_constant(kind) for kind in Kind}


def scramble(kind: Kind, low: int) -> int:
    """The bijection of [0, 2**48) behind a kind's id bodies."""
    x = low
    for multiplier in MULTIPLIERS:
        x = (x * multiplier) & LOW_MASK
        x ^= x >> HALF
    return x ^ _CONSTANTS[kind]


def unscramble(kind: Kind, scrambled: int) -> int:
    x = scrambled ^ _CONSTANTS[kind]
    for inverse in reversed(_INVERSES):
        x ^= x >> HALF
        x = (x * inverse) & LOW_MASK
    return x


def encode(kind: Kind, value: int) -> str:
    """The public id of the ``kind`` record whose key is ``value`` (0 <= value < 2**63)."""
    high = value >> LOW_BITS
    body = f"{scramble(kind, value & LOW_MASK):0{LOW_DIGITS}x}"
    return f"{kind.value}_{high:x}{body}" if high else f"{kind.value}_{body}"


def decode(kind: Kind, public_id: str) -> int | None:
    """The integer behind a public id, or None when it is not one of ``kind``.

    Only the canonical spelling is accepted (lower case, no leading zero in
    the high part), so each record has exactly one public id.
    """
    prefix, _, body = public_id.partition("_")
    if prefix != kind.value or not LOW_DIGITS <= len(body) <= LOW_DIGITS + 4:
        return None
    if not _HEX.issuperset(body):
        return None
    head, tail = body[:-LOW_DIGITS], body[-LOW_DIGITS:]
    if head.startswith("0"):
        return None
    high = int(head, 16) if head else 0
    value = (high << LOW_BITS) | unscramble(kind, int(tail, 16))
    return value if value < 1 << 63 else None


_MISSING: dict[Kind, tuple[str, str]] = {
    Kind.CAMPAIGN: ("campaign_not_found", "No such campaign"),
    Kind.AFFILIATE: ("affiliate_not_found", "No such affiliate"),
    Kind.API_KEY: ("key_not_found", "No such API key"),
    Kind.CODE_BATCH: ("batch_not_found", "No such code batch"),
    Kind.REDEMPTION: ("redemption_not_found", "No such redemption"),
    Kind.LEDGER_ENTRY: ("ledger_entry_not_found", "No such ledger entry"),
    Kind.PAYOUT: ("payout_not_found", "No such payout"),
    Kind.JOB: ("job_not_found", "No such job"),
    Kind.EVENT: ("event_not_found", "No such event"),
    Kind.WEBHOOK: ("webhook_not_found", "No such webhook subscription"),
    Kind.DELIVERY: ("delivery_not_found", "No such webhook delivery"),
    Kind.ATTEMPT: ("attempt_not_found", "No such delivery attempt"),
    Kind.CONSOLE_USER: ("account_not_found", "No such console account"),
    Kind.COMMISSION_PLAN: ("commission_plan_not_found", "No such commission plan"),
    Kind.CONVERSION: ("conversion_not_found", "No such conversion"),
    Kind.CODE_IMPORT: ("import_not_found", "No such code import"),
    Kind.RESERVATION: ("reservation_not_found", "No such reservation"),
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
