"""Codes: each holds its own usage counter; canonical forms are unique among live codes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from promo.db.metadata import Base, BigId, UtcDateTime


class Code(Base):
    __tablename__ = "codes"
    __table_args__ = (
        # The database is the judge of uniqueness, across all campaigns. An
        # archived campaign's codes stop being live, which releases their
        # canonical forms for reuse while history keeps the rows.
        Index(
            "uq_codes_canonical_live",
            "canonical",
            unique=True,
            postgresql_where=text("live"),
            sqlite_where=text("live"),
        ),
        CheckConstraint("used >= 0", name="used_non_negative"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(BigId, ForeignKey("campaigns.id"), index=True)
    code: Mapped[str] = mapped_column(String(64))
    canonical: Mapped[str] = mapped_column(String(32))
    max_redemptions: Mapped[int | None] = mapped_column(Integer)
    used: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    live: Mapped[bool] = mapped_column(Boolean, default=True)
    affiliate_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("affiliates.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
