"""discount kinds: allocation per unit, buy X get Y, gift, tiers

- campaigns.discount_allocation ('across' for every existing campaign, or
  'each') and campaigns.discount_max_quantity, for percentages and fixed
  amounts;
- campaigns.discount_terms (JSON): the terms of buy_x_get_y, gift and tiered;
- discount_type takes the three new kinds; check constraints tie each kind
  to its columns.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-04 04:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_TYPES = "discount_type IN ('percentage', 'fixed_amount', 'free_shipping')"
NEW_TYPES = (
    "discount_type IN ('percentage', 'fixed_amount', 'free_shipping', "
    "'buy_x_get_y', 'gift', 'tiered')"
)
ALLOCATION = (
    "discount_allocation IN ('across', 'each') AND "
    "(discount_allocation = 'across' OR discount_type IN ('percentage', 'fixed_amount'))"
)
MAX_QUANTITY = (
    "discount_max_quantity IS NULL OR "
    "(discount_allocation = 'each' AND discount_max_quantity >= 1)"
)
TERMS = "(discount_type IN ('buy_x_get_y', 'gift', 'tiered')) = (discount_terms IS NOT NULL)"


def upgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.add_column(
            sa.Column(
                "discount_allocation",
                sa.String(length=8),
                server_default="across",
                nullable=False,
            )
        )
        batch.add_column(sa.Column("discount_max_quantity", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("discount_terms", sa.JSON(), nullable=True))
        batch.drop_constraint(op.f("ck_campaigns_discount_type"), type_="check")
        batch.create_check_constraint(op.f("ck_campaigns_discount_type"), NEW_TYPES)
        batch.create_check_constraint(op.f("ck_campaigns_discount_allocation"), ALLOCATION)
        batch.create_check_constraint(op.f("ck_campaigns_discount_max_quantity"), MAX_QUANTITY)
        batch.create_check_constraint(op.f("ck_campaigns_discount_terms"), TERMS)


def downgrade() -> None:
    # A campaign of a new kind fails the old discount_type check: the downgrade
    # stops there rather than silently changing what such a campaign gives.
    # Allocation per unit is dropped (those campaigns go back to "across").
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_constraint(op.f("ck_campaigns_discount_terms"), type_="check")
        batch.drop_constraint(op.f("ck_campaigns_discount_max_quantity"), type_="check")
        batch.drop_constraint(op.f("ck_campaigns_discount_allocation"), type_="check")
        batch.drop_constraint(op.f("ck_campaigns_discount_type"), type_="check")
        batch.create_check_constraint(op.f("ck_campaigns_discount_type"), OLD_TYPES)
        batch.drop_column("discount_terms")
        batch.drop_column("discount_max_quantity")
        batch.drop_column("discount_allocation")
