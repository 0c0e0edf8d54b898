"""code channels and the performance reports' roll-ups

- codes.channel: a lower-case token (instagram, podcast, ...) set by the
  marketer or the code's affiliate; NULL for every existing code.
- report_hours, report_days: the performance reports' figures per UTC hour
  (and per UTC day) and code; validations are added to them by the workers,
  sales are recomputed from the ledger by the roll-up (promo.reports.rollup).
  Empty at first: reports read the ledger directly until a roll-up has run.
- report_rollup_state: the instant before which sales are rolled up (no row yet).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 15:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
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


def upgrade() -> None:
    with op.batch_alter_table("codes") as batch:
        batch.add_column(sa.Column("channel", sa.String(length=32), nullable=True))
    _figures_table("report_hours", "hour")
    _figures_table("report_days", "day")
    op.create_table(
        "report_rollup_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sales_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_rollup_state")),
    )


def downgrade() -> None:
    op.drop_table("report_rollup_state")
    op.drop_table("report_days")
    op.drop_table("report_hours")
    with op.batch_alter_table("codes") as batch:
        batch.drop_column("channel")
