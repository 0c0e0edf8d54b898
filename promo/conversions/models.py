"""Conversions: one action of a kind, credited once to one affiliate.

``(kind, external_id)`` is unique: the index, not a prior read, refuses the
second of two concurrent reports of the same lead. The commission is the
ledger's (a ``conversion`` entry, and a ``reversal`` when rejected); the row
keeps what priced it and whether it was rejected.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from promo.db.metadata import Base, BigId, UtcDateTime

UNIQUE = "uq_conversions_kind_external_id"


class Conversion(Base):
    __tablename__ = "conversions"
    __table_args__ = (Index(UNIQUE, "kind", "external_id", unique=True),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(128))
    affiliate_id: Mapped[int] = mapped_column(BigId, ForeignKey("affiliates.id"), index=True)
    # The code it was credited through, when one was named (and its campaign).
    code_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("codes.id"))
    campaign_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("campaigns.id"))
    # For an assist: the order another affiliate's code closed.
    order_id: Mapped[str | None] = mapped_column(String(128))
    value: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    commission: Mapped[int] = mapped_column(BigInteger)
    plan_id: Mapped[int] = mapped_column(BigId, ForeignKey("commission_plans.id"))
    plan_revision: Mapped[int] = mapped_column(Integer)
    available_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    rejected_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    reject_reason: Mapped[str | None] = mapped_column(Text)
