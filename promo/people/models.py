"""Console accounts, their sign-in sessions and their one-time links.

An account is a person (e-mail, argon2 password hash, one role, for an
affiliate the affiliate it is bound to). Sessions and links are stored as the
SHA-256 of a random token, never the token itself, so a copy of the database
opens no session. Sessions live in the database so that every worker and host
sees the same ones and ending them (sign-out, deactivation, a new password)
takes effect at once everywhere.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from promo.auth.roles import Role
from promo.db.metadata import Base, BigId, UtcDateTime


class ConsoleUser(Base):
    __tablename__ = "console_users"
    __table_args__ = (
        CheckConstraint(
            "(role = 'affiliate') = (affiliate_id IS NOT NULL)", name="affiliate_iff_role"
        ),
        CheckConstraint("role IN ('admin', 'marketer', 'affiliate', 'accountant')", name="role"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # Canonical (lower-cased) e-mail: the sign-in name, unique.
    email: Mapped[str] = mapped_column(String(320), unique=True)
    role: Mapped[Role] = mapped_column(String(16))
    affiliate_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("affiliates.id"), index=True)
    # None until the person has set one from an invitation.
    password_hash: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # "en", "fr" or None (the browser's Accept-Language decides).
    locale: Mapped[str | None] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class ConsoleSession(Base):
    __tablename__ = "console_sessions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("console_users.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # Idle expiry, pushed forward as the session is used; never past ends_at.
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    ends_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # The address it was opened from (shown to the person, used by fraud checks).
    address: Mapped[str | None] = mapped_column(String(64))


class AccountLink(Base):
    """A one-time link: an invitation (7 days) or a password reset (1 hour)."""

    __tablename__ = "console_links"
    __table_args__ = (CheckConstraint("purpose IN ('invite', 'reset')", name="purpose"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("console_users.id", ondelete="CASCADE"), index=True
    )
    purpose: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
