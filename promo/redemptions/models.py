"""Per-customer usage of a campaign: one row per (campaign, customer key)."""

from __future__ import annotations

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from promo.db.metadata import Base, BigId


class CustomerUsage(Base):
    __tablename__ = "customer_usage"
    __table_args__ = (
        UniqueConstraint("campaign_id", "customer_key"),
        CheckConstraint("used >= 0", name="used_non_negative"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(BigId, ForeignKey("campaigns.id"))
    customer_key: Mapped[str] = mapped_column(String(400), index=True)
    used: Mapped[int] = mapped_column(Integer, default=0)
