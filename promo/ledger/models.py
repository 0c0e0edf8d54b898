"""Ledger entries: immutable; a PostgreSQL trigger refuses UPDATE, DELETE and TRUNCATE.

``commission`` is what the entry adds to the affiliate's balance (reversals,
refunds and payouts are negative), so an affiliate's balance in a currency
is the sum of its entries.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from promo.db.metadata import Base, BigId, UtcDateTime

LEDGER_KINDS = ("redemption", "reversal", "refund", "adjustment", "payout", "bonus", "conversion")


# An entry that changes an affiliate's balance (a payout is no commission).
COMMISSION_ENTRY = "affiliate_id IS NOT NULL AND commission <> 0 AND kind <> 'payout'"


class LedgerEntry(Base):
    __tablename__ = "ledger_entries"
    __table_args__ = (
        CheckConstraint(
            "kind IN ('redemption', 'reversal', 'refund', 'adjustment', 'payout', 'bonus',"
            " 'conversion')",
            name="kind",
        ),
        # Entries whose commission becomes available (event commission.available,
        # promo.ledger.availability), by when.
        Index(
            "ix_ledger_entries_available_commission",
            "available_at",
            postgresql_where=text(COMMISSION_ENTRY),
            sqlite_where=text(COMMISSION_ENTRY),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    kind: Mapped[str] = mapped_column(String(16))
    redemption_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("redemptions.id"), index=True
    )
    # Set on a conversion's entries (promo.conversions): the one it credits or takes back.
    conversion_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("conversions.id"), index=True
    )
    order_id: Mapped[str | None] = mapped_column(String(128))
    code: Mapped[str | None] = mapped_column(String(64))
    campaign_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("campaigns.id"), index=True)
    affiliate_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("affiliates.id"), index=True)
    currency: Mapped[str] = mapped_column(String(3))
    order_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    discount: Mapped[int] = mapped_column(BigInteger, default=0)
    commission: Mapped[int] = mapped_column(BigInteger, default=0)
    available_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # The plan, revision and base rate that priced the commission (None: an
    # inline percent/fixed, or no affiliate); a refund or reversal records those
    # of the sale it takes back.
    # No foreign key, as on the redemption: plans are never deleted.
    plan_id: Mapped[int | None] = mapped_column(BigId)
    plan_revision: Mapped[int | None] = mapped_column(Integer)
    rate: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    # Set on ``payout`` entries only: the payout they record.
    payout_id: Mapped[int | None] = mapped_column(BigId)
    note: Mapped[str | None] = mapped_column(Text)


class Payout(Base):
    """One payment to one affiliate in one currency, as of an instant."""

    __tablename__ = "payouts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    affiliate_id: Mapped[int] = mapped_column(BigId, ForeignKey("affiliates.id"), index=True)
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[int] = mapped_column(BigInteger)
    as_of: Mapped[datetime] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class PayoutItem(Base):
    """Which ledger entries a payout covers; an entry is paid at most once (unique)."""

    __tablename__ = "payout_items"

    entry_id: Mapped[int] = mapped_column(BigId, ForeignKey("ledger_entries.id"), primary_key=True)
    payout_id: Mapped[int] = mapped_column(BigId, ForeignKey("payouts.id"), index=True)
