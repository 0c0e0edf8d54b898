"""Roll-ups of the performance reports: per UTC hour, day, week and month, per code.

The four tables hold the same figures (promo.reports.grains describes their
keys); a day's row is the sum of its hours' rows, a week's and a month's the
sum of their days'. Validations (``validations_tried``,
``validations_valid``) have no other record: each worker adds its counts with
additive upserts (promo.reports.counting). The sales figures are derived
from the ledger and the redemptions, the source of truth, by
``promo.reports.rollup.roll_up``, which recomputes whole hours (and the days,
weeks and months they fall in) and never touches the validation columns.
Hours let a report use any time zone whose offsets are whole hours; days,
weeks and months make long reports cheap.

Keys are integers: ``hour`` counts hours since 1970-01-01T00:00Z, ``day``
days, ``week`` ISO weeks (Monday to Sunday, UTC) since Monday 1969-12-29,
``month`` calendar months since January 1970. ``campaign_id``,
``affiliate_id`` and ``currency`` are the code's, as its ledger entries and
validations record them. No foreign keys: the rows are derived (a roll-up
rebuilds them) and every upsert would pay for the checks.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, PrimaryKeyConstraint, String, text
from sqlalchemy.orm import Mapped, mapped_column

from promo.db.metadata import Base, UtcDateTime

ZERO = text("0")

VALIDATION_COLUMNS = ("validations_tried", "validations_valid")
SALES_COLUMNS = (
    "redemptions",
    "revenue",
    "discount",
    "commission",
    "refunds",
    "refunds_count",
)
FIGURE_COLUMNS = VALIDATION_COLUMNS + SALES_COLUMNS


class _Figures:
    """The columns every grain shares."""

    code_id: Mapped[int] = mapped_column(BigInteger)
    campaign_id: Mapped[int] = mapped_column(BigInteger)
    affiliate_id: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    # Validations of the code that found it live: all of them, and the valid ones.
    validations_tried: Mapped[int] = mapped_column(BigInteger, server_default=ZERO)
    validations_valid: Mapped[int] = mapped_column(BigInteger, server_default=ZERO)
    # Redemption entries, and their order amounts (revenue).
    redemptions: Mapped[int] = mapped_column(BigInteger, server_default=ZERO)
    revenue: Mapped[int] = mapped_column(BigInteger, server_default=ZERO)
    # The ledger's signed sums over redemption, refund and reversal entries:
    # granted, less what refunds and rollbacks took back.
    discount: Mapped[int] = mapped_column(BigInteger, server_default=ZERO)
    commission: Mapped[int] = mapped_column(BigInteger, server_default=ZERO)
    # Order amounts refunded (partial refunds and full rollbacks, positive), and
    # how many such entries.
    refunds: Mapped[int] = mapped_column(BigInteger, server_default=ZERO)
    refunds_count: Mapped[int] = mapped_column(BigInteger, server_default=ZERO)


class ReportHour(_Figures, Base):
    __tablename__ = "report_hours"
    # Reports and roll-ups read ranges of hours.
    __table_args__ = (PrimaryKeyConstraint("hour", "code_id"),)

    hour: Mapped[int] = mapped_column(Integer)


class ReportDay(_Figures, Base):
    __tablename__ = "report_days"
    __table_args__ = (PrimaryKeyConstraint("day", "code_id"),)

    day: Mapped[int] = mapped_column(Integer)


class ReportWeek(_Figures, Base):
    __tablename__ = "report_weeks"
    __table_args__ = (PrimaryKeyConstraint("week", "code_id"),)

    week: Mapped[int] = mapped_column(Integer)


class ReportMonth(_Figures, Base):
    __tablename__ = "report_months"
    __table_args__ = (PrimaryKeyConstraint("month", "code_id"),)

    month: Mapped[int] = mapped_column(Integer)


class RollupState(Base):
    """One row (id 1): the instant before which every hour's sales are rolled up."""

    __tablename__ = "report_rollup_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sales_until: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
