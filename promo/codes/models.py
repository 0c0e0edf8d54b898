"""Codes and code batches.

Each code holds its own usage counter; canonical forms are unique among live
codes. A code is a vanity code typed by a marketer, an affiliate's dedicated
code (derived with hashids) or its alias, or one of a generated batch.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from promo.db.metadata import Base, BigId, UtcDateTime

CODE_KINDS = ("vanity", "dedicated", "alias", "batch", "referral", "automatic")


class CodeBatch(Base):
    """A request to generate ``count`` unique codes from a pattern, and its progress."""

    __tablename__ = "code_batches"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'running', 'done', 'failed')", name="status"),
        CheckConstraint("generated >= 0 AND generated <= count", name="generated_in_range"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(BigId, ForeignKey("campaigns.id"), index=True)
    affiliate_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("affiliates.id"))
    # The canonical pattern (``SUM####``): batches of one pattern share its
    # space, so the guessability bound sums their codes by this column.
    pattern: Mapped[str] = mapped_column(String(64), index=True)
    # The pattern as typed (``SUM-####``): the display form of its codes.
    display_pattern: Mapped[str] = mapped_column(String(64))
    # A preset name (lower case) or the canonical characters (upper case).
    charset: Mapped[str] = mapped_column(String(64))
    count: Mapped[int] = mapped_column(Integer)
    max_redemptions_per_code: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    generated: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # What every code of the batch gets: ``expires_at`` is the batch's issue
    # time (``created_at``) plus ``valid_for`` when that was asked, or as given.
    valid_for_seconds: Mapped[int | None] = mapped_column(BigInteger)
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Set on a batch issued to a list of customers (``CodeBatchCustomer``: one
    # code each, bound to it): until when the list as given can be downloaded.
    customers_until: Mapped[datetime | None] = mapped_column(UtcDateTime)


class CodeBatchCustomer(Base):
    """One customer of a batch issued to a list, in upload order, and its code.

    ``given`` is the id or e-mail as uploaded, sealed (promo.pii), kept only
    for the mailing tool's download: the purge deletes these rows once the
    download window is over (promo.codes.batch_customers); the code keeps the
    customer's ref.
    """

    __tablename__ = "code_batch_customers"
    __table_args__ = (UniqueConstraint("batch_id", "customer_ref"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    batch_id: Mapped[int] = mapped_column(BigId, ForeignKey("code_batches.id"))
    customer_ref: Mapped[str] = mapped_column(String(64))
    given: Mapped[str | None] = mapped_column(Text)
    code_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("codes.id"))


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
            # Written as each database's compiler writes ``Code.live`` in a
            # query, so that the planner can prove the query uses this index.
            postgresql_where=text("live"),
            sqlite_where=text("live = 1"),
        ),
        # One dedicated code per affiliate and campaign, even when two first
        # requests race.
        Index(
            "uq_codes_dedicated",
            "campaign_id",
            "affiliate_id",
            unique=True,
            postgresql_where=text("kind = 'dedicated'"),
            sqlite_where=text("kind = 'dedicated'"),
        ),
        # A customer's own codes (promo.checkout.qualifications).
        Index(
            "ix_codes_customer_ref",
            "customer_ref",
            postgresql_where=text("customer_ref IS NOT NULL"),
            sqlite_where=text("customer_ref IS NOT NULL"),
        ),
        CheckConstraint("used >= 0", name="used_non_negative"),
        CheckConstraint(
            "kind IN ('vanity', 'dedicated', 'alias', 'batch', 'referral', 'automatic')",
            name="kind",
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(BigId, ForeignKey("campaigns.id"), index=True)
    code: Mapped[str] = mapped_column(String(64))
    canonical: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16), default="vanity")
    max_redemptions: Mapped[int | None] = mapped_column(Integer)
    used: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    live: Mapped[bool] = mapped_column(Boolean, default=True)
    affiliate_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("affiliates.id"), index=True)
    batch_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("code_batches.id"), index=True)
    # Where the code is broadcast (instagram, podcast, ...): a lower-case token
    # the marketer or the code's affiliate sets; reports group by it.
    channel: Mapped[str | None] = mapped_column(String(32))
    # A referral code's referrer (promo.referrals), as the refs of its identity:
    # a friend known by either is refused as a self-referral.
    referrer_ref: Mapped[str | None] = mapped_column(String(400))
    referrer_alt_ref: Mapped[str | None] = mapped_column(String(400))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # The code's own window, within its campaign's (NULL: the campaign's).
    starts_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # The ref (promo.pii) of the one customer the code is for; NULL: anyone.
    customer_ref: Mapped[str | None] = mapped_column(String(64))
