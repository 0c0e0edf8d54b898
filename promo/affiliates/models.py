"""Affiliates: who earns commission on the codes attributed to them."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from promo.db.metadata import Base, BigId, UtcDateTime

EMAIL_UNIQUE = "uq_affiliates_email_key"
"""One affiliate per canonical e-mail: the database judges concurrent creations."""


class Affiliate(Base):
    __tablename__ = "affiliates"
    __table_args__ = (Index(EMAIL_UNIQUE, "email_key", unique=True),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320))
    # Canonical form of the e-mail (see customer identity) for self-referral
    # checks; unique, so that one person is one affiliate.
    email_key: Mapped[str] = mapped_column(String(320))
    # Commission override; NULL falls back to the campaign's default.
    commission_percent: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    commission_fixed: Mapped[int | None] = mapped_column(BigInteger)
    # Its own commission plan (promo.plans), overriding the campaign's terms on
    # campaigns in the plan's currency.
    commission_plan_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("commission_plans.id"))
    payout_thresholds: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    holding_days: Mapped[int] = mapped_column(Integer, default=30)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
