"""What the checkout writes: redemptions, usage per customer, first orders, answers.

A redemption records the terms it was granted under (discount, its split
over lines, order amount, commission) so that later campaign changes never
alter it. Refunds and rollbacks accumulate on it; the ledger keeps the
immutable history of each.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from promo.db.metadata import Base, BigId, UtcDateTime


class CustomerUsage(Base):
    """How many live redemptions a customer holds on a campaign, under one ref
    (promo.pii: a keyed hash, never the identity itself)."""

    __tablename__ = "customer_usage"
    __table_args__ = (
        UniqueConstraint("campaign_id", "customer_ref"),
        CheckConstraint("used >= 0", name="used_non_negative"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(BigId, ForeignKey("campaigns.id"))
    customer_ref: Mapped[str] = mapped_column(String(400), index=True)
    used: Mapped[int] = mapped_column(Integer, default=0)


class CustomerOrders(Base):
    """How many live redemptions a customer identity holds across all campaigns:
    a customer with one is never on a first order. Consumed in the same
    statement as the other limits, so concurrent first orders cannot both pass."""

    __tablename__ = "customer_orders"
    __table_args__ = (CheckConstraint("live >= 0", name="live_non_negative"),)

    customer_ref: Mapped[str] = mapped_column(String(400), primary_key=True)
    live: Mapped[int] = mapped_column(Integer, default=0)


class Redemption(Base):
    __tablename__ = "redemptions"
    __table_args__ = (
        # One code per order: at most one redemption of an order that is not
        # fully rolled back.
        Index(
            "uq_redemptions_order_live",
            "order_id",
            unique=True,
            postgresql_where=text("rolled_back_at IS NULL"),
            sqlite_where=text("rolled_back_at IS NULL"),
        ),
        CheckConstraint("refunded_amount >= 0 AND refunded_amount <= order_amount", name="refund"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code_id: Mapped[int] = mapped_column(BigId, ForeignKey("codes.id"), index=True)
    campaign_id: Mapped[int] = mapped_column(BigId, ForeignKey("campaigns.id"), index=True)
    affiliate_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("affiliates.id"), index=True)
    # The shopper's ref (promo.pii): of its id when the checkout gave one, else
    # of its e-mail; a tombstone once the person was erased.
    customer_ref: Mapped[str | None] = mapped_column(String(400), index=True)
    # The e-mail's ref when the checkout named the customer by id and e-mail:
    # both count against the limits, and both are given back by a rollback.
    customer_alt_ref: Mapped[str | None] = mapped_column(String(400), index=True)
    order_id: Mapped[str] = mapped_column(String(128))
    currency: Mapped[str] = mapped_column(String(3))
    # Eligible items after discount: what commission is computed on.
    order_amount: Mapped[int] = mapped_column(BigInteger)
    discount_total: Mapped[int] = mapped_column(BigInteger)
    discount_shipping: Mapped[int] = mapped_column(BigInteger)
    discount_lines: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    commission: Mapped[int] = mapped_column(BigInteger)
    commission_fixed: Mapped[int] = mapped_column(BigInteger)
    # What priced the commission (promo.plans.pricing): the plan and its
    # revision (None: the inline percent/fixed), the base rate after tiers, the
    # tier reached (0: none), the period it was counted in (tiers, bonus: the
    # rollback takes it out again) and each eligible line's rate and part.
    # No foreign key: its check would share-lock the plan's row for every sale
    # (one MultiXact per concurrent sale); plans are never deleted.
    commission_plan_id: Mapped[int | None] = mapped_column(BigId)
    commission_plan_revision: Mapped[int | None] = mapped_column(Integer)
    commission_rate: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    commission_tier: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    commission_period: Mapped[str | None] = mapped_column(String(7))
    commission_lines: Mapped[list[dict[str, Any]]] = mapped_column(
        JSON, default=list, server_default=text("'[]'")
    )
    refunded_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    budget_returned: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    rolled_back_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class IdempotencyRecord(Base):
    """The answer given under an Idempotency-Key, written in the same
    transaction (or statement) as the effect it describes."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("scope", "key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # The operation and the API key that sent it: keys of one integration
    # are never seen by another.
    scope: Mapped[str] = mapped_column(String(128))
    key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


RESERVATION_STATUSES = ("held", "confirmed", "released", "expired")


class Reservation(Base):
    """A discount held for a shopper while they pay (promo.checkout.reservations):
    every counter and the budget consumed by the same steps as a redemption's,
    until it is confirmed (the hold becomes the redemption's use), released or
    expired (given back by the rollback's inverse steps). It leaves ``held``
    exactly once, by a conditional UPDATE."""

    __tablename__ = "reservations"
    __table_args__ = (
        CheckConstraint("status IN ('held', 'confirmed', 'released', 'expired')", name="status"),
        # The expiry's scan, and the held uses of a code (``code_reserved``).
        Index(
            "ix_reservations_held_expiry",
            "expires_at",
            postgresql_where=text("status = 'held'"),
            sqlite_where=text("status = 'held'"),
        ),
        Index(
            "ix_reservations_held_code",
            "code_id",
            "expires_at",
            postgresql_where=text("status = 'held'"),
            sqlite_where=text("status = 'held'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code_id: Mapped[int] = mapped_column(BigId, ForeignKey("codes.id"))
    campaign_id: Mapped[int] = mapped_column(BigId, ForeignKey("campaigns.id"), index=True)
    affiliate_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("affiliates.id"))
    # The shopper's refs, as a redemption holds them (promo.pii).
    customer_ref: Mapped[str | None] = mapped_column(String(400))
    customer_alt_ref: Mapped[str | None] = mapped_column(String(400))
    status: Mapped[str] = mapped_column(String(16))
    currency: Mapped[str] = mapped_column(String(3))
    discount_total: Mapped[int] = mapped_column(BigInteger)
    discount_shipping: Mapped[int] = mapped_column(BigInteger)
    discount_lines: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    # The rest of the redemption it grants (order amount, commission and what
    # priced it: promo.checkout.reservations.Terms), kept for its confirmation.
    terms: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # When it left ``held``; the redemption it became. No foreign key: the
    # redemption and this row are written by one statement.
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    order_id: Mapped[str | None] = mapped_column(String(128))
    redemption_id: Mapped[int | None] = mapped_column(BigId)
