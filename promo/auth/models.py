"""API keys: one role each, stored only as a SHA-256 hash, revocable."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from promo.auth.roles import Role
from promo.db.metadata import Base, BigId, UtcDateTime


class ApiKey(Base):
    __tablename__ = "api_keys"
    __table_args__ = (
        CheckConstraint(
            "(role = 'affiliate') = (affiliate_id IS NOT NULL)", name="affiliate_iff_role"
        ),
        CheckConstraint(
            "role IN ('admin', 'marketer', 'checkout', 'affiliate', 'accountant')", name="role"
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    role: Mapped[Role] = mapped_column(String(16))
    affiliate_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("affiliates.id"), index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    # The first characters of the key, kept so operators can tell keys apart.
    prefix: Mapped[str] = mapped_column(String(16))
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
