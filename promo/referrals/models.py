"""Referrers: the customers who bring friends, each with a personal code per program.

A referrer is stored as the refs of its identity (promo.pii), never its id or
e-mail: ``customer_ref`` (its id's, else its e-mail's) and ``customer_alt_ref``
(its e-mail's when both were given); its code carries the same refs, which the
checkout compares with a friend's identity to refuse a self-referral. One referrer per program and
identity (the unique index judges concurrent first requests).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from promo.db.metadata import Base, BigId, UtcDateTime

UNIQUE = "uq_referrers_campaign_id_customer_ref"


class Referrer(Base):
    __tablename__ = "referrers"
    __table_args__ = (Index(UNIQUE, "campaign_id", "customer_ref", unique=True),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(BigId, ForeignKey("campaigns.id"))
    customer_ref: Mapped[str] = mapped_column(String(400))
    customer_alt_ref: Mapped[str | None] = mapped_column(String(400))
    code_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("codes.id"), unique=True)
    # Rewards issued so far (at most the program's max_rewards_per_referrer).
    rewards: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class ReferralReward(Base):
    """The one reward of one friend's redemption: issued once (the primary key
    judges concurrent settlers), as a code bound to the referrer or a credit, or
    ``none`` past the referrer's maximum of rewards; ``revoked_at`` when the
    friend's order was refunded after it."""

    __tablename__ = "referral_rewards"

    redemption_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("redemptions.id"), primary_key=True
    )
    referrer_id: Mapped[int] = mapped_column(BigId, ForeignKey("referrers.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # "code", "credit" or "none"
    code_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("codes.id"))
    credit: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
