"""Commission plans, their revisions, and the per-period figures tiers and bonuses read.

A plan's terms are one JSON document (the pricing rules of
promo.plans.pricing), revised in place: each change bumps ``revision``
and appends the new terms to ``commission_plan_revisions``, and each sale
records the plan and revision that priced it, so an old entry is always
explained by the terms of its time.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from promo.db.metadata import Base, BigId, UtcDateTime


class CommissionPlan(Base):
    __tablename__ = "commission_plans"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # Every amount of the plan is in this currency; it prices only campaigns in it.
    currency: Mapped[str] = mapped_column(String(3))
    # Periods (tiers, bonus) are calendar months in this IANA timezone.
    timezone: Mapped[str] = mapped_column(String(64))
    revision: Mapped[int] = mapped_column(Integer, default=1)
    terms: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class CommissionPlanRevision(Base):
    """The terms of one revision of a plan, as they priced sales from ``created_at`` on."""

    __tablename__ = "commission_plan_revisions"

    plan_id: Mapped[int] = mapped_column(BigId, ForeignKey("commission_plans.id"), primary_key=True)
    revision: Mapped[int] = mapped_column(Integer, primary_key=True)
    terms: Mapped[dict[str, Any]] = mapped_column(JSON)
    timezone: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


# Periods whose bonus is still to settle, by end (promo.ledger.bonuses).
UNSETTLED = "bonus_settled_at IS NULL"


class CommissionPeriod(Base):
    """One affiliate's sales priced by one plan in one calendar month (the plan's
    timezone): counted by the redemption's own statement, taken back by a full
    rollback; what tiers are reached by and bonuses settled on."""

    __tablename__ = "commission_periods"
    __table_args__ = (
        Index(
            "ix_commission_periods_unsettled",
            "ends_at",
            postgresql_where=text(UNSETTLED),
            sqlite_where=text(UNSETTLED),
        ),
    )

    affiliate_id: Mapped[int] = mapped_column(BigId, ForeignKey("affiliates.id"), primary_key=True)
    plan_id: Mapped[int] = mapped_column(BigId, ForeignKey("commission_plans.id"), primary_key=True)
    period: Mapped[str] = mapped_column(String(7), primary_key=True)  # YYYY-MM
    starts_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ends_at: Mapped[datetime] = mapped_column(UtcDateTime)
    sales: Mapped[int] = mapped_column(Integer, default=0)
    revenue: Mapped[int] = mapped_column(BigInteger, default=0)
    bonus_settled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
