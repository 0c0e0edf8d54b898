"""Campaigns: window, discount, rules, limits and the usage counters they hold.

The campaign row carries its own ``redemptions_used`` and ``budget_used``
counters; redemption consumes them with one conditional UPDATE so that the
database, not Python, enforces limits under concurrency.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from promo.db.metadata import Base, BigId, UtcDateTime

DISCOUNT_TYPES = (
    "discount_type IN ('percentage', 'fixed_amount', 'free_shipping', "
    "'buy_x_get_y', 'gift', 'tiered')"
)
# Only a percentage or a fixed amount is allocated per unit, only per unit
# with a max_quantity; the kinds with nested terms have them, the others not.
DISCOUNT_ALLOCATION = (
    "discount_allocation IN ('across', 'each') AND "
    "(discount_allocation = 'across' OR discount_type IN ('percentage', 'fixed_amount'))"
)
DISCOUNT_MAX_QUANTITY = (
    "discount_max_quantity IS NULL OR (discount_allocation = 'each' AND discount_max_quantity >= 1)"
)
DISCOUNT_TERMS = (
    "(discount_type IN ('buy_x_get_y', 'gift', 'tiered')) = (discount_terms IS NOT NULL)"
)


class Campaign(Base):
    __tablename__ = "campaigns"
    __table_args__ = (
        CheckConstraint("status IN ('draft', 'active', 'paused', 'archived')", name="status"),
        CheckConstraint("kind IN ('standard', 'referral')", name="kind"),
        CheckConstraint(DISCOUNT_TYPES, name="discount_type"),
        CheckConstraint(
            "(discount_type = 'percentage') = (percent_off IS NOT NULL)", name="percent_off"
        ),
        CheckConstraint(
            "(discount_type = 'fixed_amount') = (amount_off IS NOT NULL)", name="amount_off"
        ),
        CheckConstraint(DISCOUNT_ALLOCATION, name="discount_allocation"),
        CheckConstraint(DISCOUNT_MAX_QUANTITY, name="discount_max_quantity"),
        CheckConstraint(DISCOUNT_TERMS, name="discount_terms"),
        CheckConstraint("redemptions_used >= 0", name="redemptions_used_non_negative"),
        CheckConstraint("budget_used >= 0", name="budget_used_non_negative"),
        CheckConstraint("NOT (automatic AND kind = 'referral')", name="automatic_standard"),
        # The checkout looks for the automatic promotions in a currency.
        Index(
            "ix_campaigns_automatic",
            "currency",
            postgresql_where=text("automatic"),
            sqlite_where=text("automatic"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # "referral": a two-sided referral program (promo.referrals), whose terms
    # are ``referral`` (campaigns.schemas.ReferralTerms, ids stored as keys).
    kind: Mapped[str] = mapped_column(String(16), default="standard", server_default="standard")
    referral: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), index=True)
    currency: Mapped[str] = mapped_column(String(3))
    starts_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ends_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    timezone: Mapped[str | None] = mapped_column(String(64))
    code_prefix: Mapped[str | None] = mapped_column(String(16))
    open_to_affiliates: Mapped[bool] = mapped_column(Boolean, default=False)
    # Affiliates' aliases (promo.codes.dedicated): off unless the marketer allows them.
    affiliate_aliases: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    max_aliases_per_affiliate: Mapped[int] = mapped_column(
        Integer, default=1, server_default=text("1")
    )

    discount_type: Mapped[str] = mapped_column(String(16))
    percent_off: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    max_discount: Mapped[int | None] = mapped_column(BigInteger)
    amount_off: Mapped[int | None] = mapped_column(BigInteger)
    discount_allocation: Mapped[str] = mapped_column(
        String(8), default="across", server_default="across"
    )
    discount_max_quantity: Mapped[int | None] = mapped_column(Integer)
    # The terms of buy_x_get_y, gift and tiered (promo.campaigns.stored_discount).
    discount_terms: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))

    # Cart rules (min_subtotal, min_quantity, include/exclude lists,
    # first_order_only, customer allowlist) as one document: they are only
    # ever evaluated in Python, after the campaign row has been read.
    rules: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    max_redemptions: Mapped[int | None] = mapped_column(Integer)
    max_redemptions_per_customer: Mapped[int | None] = mapped_column(Integer)
    budget: Mapped[int | None] = mapped_column(BigInteger)
    redemptions_used: Mapped[int] = mapped_column(Integer, default=0)
    budget_used: Mapped[int] = mapped_column(BigInteger, default=0)

    commission_percent: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    commission_fixed: Mapped[int | None] = mapped_column(BigInteger)
    # A commission plan (promo.plans) prices the sales instead of percent/fixed.
    commission_plan_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("commission_plans.id"))

    # How its discount stacks with others on one order (campaigns.schemas.StackingTerms),
    # evaluated in Python like the rules; ``automatic``: applies without a code.
    stacking: Mapped[dict[str, Any]] = mapped_column(
        JSON, default=dict, server_default=text("'{}'")
    )
    automatic: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class BudgetAlert(Base):
    """The highest budget threshold (80, 100) a campaign's use has reached and
    been told (event campaign.budget_threshold); lowered again when the use
    falls back below it (refunds, a larger budget), so that the next crossing
    is told too (promo.campaigns.budget_alerts)."""

    __tablename__ = "campaign_budget_alerts"

    campaign_id: Mapped[int] = mapped_column(BigId, ForeignKey("campaigns.id"), primary_key=True)
    level: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
