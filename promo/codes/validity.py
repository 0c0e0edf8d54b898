"""A code's own validity: its window, and how long an issued code lasts (pure).

A code may carry ``starts_at`` and ``expires_at``; the checkout applies them
beside its campaign's window (promo.checkout.eligibility.unavailable), so a
code's window always lies within its campaign's: it can narrow it, never
widen it. Batches and codes issued to customers take ``valid_for`` (an ISO
8601 duration, ``P30D``, ``PT12H``) instead: each code expires that long
after it is issued, or an ``expires_at`` given as such.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from promo.errors import Invalid

MAX_VALID_FOR = timedelta(days=3650)


def check_valid_for(valid_for: timedelta | None, field: str = "valid_for") -> None:
    """A duration from one second to ten years; 422 naming ``field`` otherwise."""
    if valid_for is None:
        return
    if valid_for < timedelta(seconds=1) or valid_for > MAX_VALID_FOR:
        raise Invalid.field(field, "must be a duration from PT1S to P3650D")


def check_window(starts_at: datetime | None, expires_at: datetime | None) -> None:
    """A window that ends after it starts; 422 naming ``expires_at`` otherwise."""
    if starts_at is not None and expires_at is not None and expires_at <= starts_at:
        raise Invalid.field("expires_at", "must be after starts_at")


def expiry(
    issued_at: datetime, *, valid_for: timedelta | None, expires_at: datetime | None
) -> datetime | None:
    """When codes issued at ``issued_at`` expire: ``valid_for`` after, or at
    ``expires_at`` (one of the two at most), or never (None)."""
    check_valid_for(valid_for)
    if valid_for is not None and expires_at is not None:
        raise Invalid.field("expires_at", "give valid_for or expires_at, not both")
    if valid_for is not None:
        return issued_at + valid_for
    if expires_at is not None and expires_at <= issued_at:
        raise Invalid.field("expires_at", "must be in the future")
    return expires_at
