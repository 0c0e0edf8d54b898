"""the performance reports' weekly and monthly roll-ups

- report_weeks, report_months: the same figures as report_days per UTC ISO
  week (Monday to Monday; ``week`` counts weeks since Monday 1969-12-29) and
  per UTC calendar month (``month`` counts months since January 1970), and
  code. The roll-up rebuilds them from the days, the validation flush adds to
  them with the hours and days (promo.reports.grains).
- Both are filled here from report_days, so that every week's and month's row
  is the sum of its days' rows from the start.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 07:00:00.000000
"""

from collections.abc import Sequence
from datetime import UTC, date, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FIGURES = (
    "validations_tried",
    "validations_valid",
    "redemptions",
    "revenue",
    "discount",
    "commission",
    "refunds",
    "refunds_count",
)
IDENTITY = ("campaign_id", "affiliate_id", "currency")
EPOCH = date(1970, 1, 1)


def _figures_table(name: str, key: str) -> None:
    op.create_table(
        name,
        sa.Column("code_id", sa.BigInteger(), nullable=False),
        sa.Column("campaign_id", sa.BigInteger(), nullable=False),
        sa.Column("affiliate_id", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        *(
            sa.Column(column, sa.BigInteger(), server_default=sa.text("0"), nullable=False)
            for column in FIGURES
        ),
        sa.Column(key, sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(key, "code_id", name=op.f(f"pk_{name}")),
    )


def _sums(table: str, key: str, unit: str) -> str:
    """INSERT INTO ``table`` the sums of report_days per (``unit``, code)."""
    columns = ", ".join((key, "code_id", *IDENTITY, *FIGURES))
    identity = ", ".join(f"min({name})" for name in IDENTITY)
    sums = ", ".join(f"sum({name})" for name in FIGURES)
    return (
        f"INSERT INTO {table} ({columns}) "
        f"SELECT {unit}, code_id, {identity}, {sums} FROM report_days"
    )


def _day(value: date) -> int:
    return (value - EPOCH).days


def upgrade() -> None:
    _figures_table("report_weeks", "week")
    _figures_table("report_months", "month")
    # Day 0 (1970-01-01) was a Thursday: week 0 starts on day -3.
    op.execute(f"{_sums('report_weeks', 'week', '(day + 3) / 7')} GROUP BY (day + 3) / 7, code_id")
    bind = op.get_bind()
    first, last = bind.execute(sa.text("SELECT min(day), max(day) FROM report_days")).one()
    if first is None:
        return
    month = datetime.fromtimestamp(first * 86400, UTC).date().replace(day=1)
    end = datetime.fromtimestamp(last * 86400, UTC).date()
    while month <= end:
        following = date(month.year + month.month // 12, month.month % 12 + 1, 1)
        key = (month.year - 1970) * 12 + month.month - 1
        bind.execute(
            sa.text(
                f"{_sums('report_months', 'month', 'CAST(:key AS INTEGER)')} "
                "WHERE day >= :low AND day < :high GROUP BY code_id"
            ),
            {"key": key, "low": _day(month), "high": _day(following)},
        )
        month = following


def downgrade() -> None:
    op.drop_table("report_months")
    op.drop_table("report_weeks")
