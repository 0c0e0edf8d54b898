"""campaign stacking: how a discount stacks with others on one order; automatic
promotions; customers' own codes found by their ref

- campaigns.stacking (JSON: combines_with by class, exclusive, priority;
  '{}' takes every default: stacks with nothing).
- campaigns.automatic (false for every existing campaign): applies without a
  code; never a referral program. A partial index finds them by currency.
- ix_codes_customer_ref: the codes bound to a customer (qualifications).
- codes.kind also takes 'automatic': an automatic campaign's one code.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-04 04:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_CODE_KINDS = "kind IN ('vanity', 'dedicated', 'alias', 'batch', 'referral')"
NEW_CODE_KINDS = "kind IN ('vanity', 'dedicated', 'alias', 'batch', 'referral', 'automatic')"


def upgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.add_column(
            sa.Column("stacking", sa.JSON(), server_default=sa.text("'{}'"), nullable=False)
        )
        batch.add_column(
            sa.Column("automatic", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch.create_check_constraint(
            op.f("ck_campaigns_automatic_standard"), "NOT (automatic AND kind = 'referral')"
        )
    op.create_index(
        "ix_campaigns_automatic",
        "campaigns",
        ["currency"],
        postgresql_where=sa.text("automatic"),
        sqlite_where=sa.text("automatic"),
    )
    with op.batch_alter_table("codes") as batch:
        batch.drop_constraint(op.f("ck_codes_kind"), type_="check")
        batch.create_check_constraint(op.f("ck_codes_kind"), NEW_CODE_KINDS)
    op.create_index(
        "ix_codes_customer_ref",
        "codes",
        ["customer_ref"],
        postgresql_where=sa.text("customer_ref IS NOT NULL"),
        sqlite_where=sa.text("customer_ref IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_codes_customer_ref", table_name="codes")
    with op.batch_alter_table("codes") as batch:
        batch.drop_constraint(op.f("ck_codes_kind"), type_="check")
        batch.create_check_constraint(op.f("ck_codes_kind"), OLD_CODE_KINDS)
    op.drop_index("ix_campaigns_automatic", table_name="campaigns")
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_constraint(op.f("ck_campaigns_automatic_standard"), type_="check")
        batch.drop_column("automatic")
        batch.drop_column("stacking")
