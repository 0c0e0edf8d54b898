"""codes of their own: per-code validity, codes bound to one customer, codes issued to a list

- codes.starts_at, codes.expires_at: the code's own window (NULL: the
  campaign's); it narrows the campaign's, never widens it.
- codes.customer_ref: the ref (promo.pii) of the one customer the code is for
  (NULL: anyone the campaign admits).
- code_batches.valid_for_seconds, code_batches.expires_at: what the batch's
  codes get (expires_at = the batch's issue time + valid_for, or as given);
  code_batches.customers_until: set on a batch issued to a list of
  customers: until when its list as given can be downloaded.
- code_batch_customers: the list a batch was issued to, in upload order: each
  customer's ref, the id or e-mail as given, sealed (promo.pii; for the
  mailing tool's download, deleted by the purge once the download window is
  over) and its code.
  Existing rows: NULL everywhere.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-04 01:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("codes") as batch:
        batch.add_column(sa.Column("starts_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("customer_ref", sa.String(length=64), nullable=True))
    with op.batch_alter_table("code_batches") as batch:
        batch.add_column(sa.Column("valid_for_seconds", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("customers_until", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "code_batch_customers",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("batch_id", BIG_ID, nullable=False),
        sa.Column("customer_ref", sa.String(length=64), nullable=False),
        sa.Column("given", sa.Text(), nullable=True),
        sa.Column("code_id", BIG_ID, nullable=True),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["code_batches.id"],
            name=op.f("fk_code_batch_customers_batch_id_code_batches"),
        ),
        sa.ForeignKeyConstraint(
            ["code_id"], ["codes.id"], name=op.f("fk_code_batch_customers_code_id_codes")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_code_batch_customers")),
        sa.UniqueConstraint(
            "batch_id", "customer_ref", name=op.f("uq_code_batch_customers_batch_id_customer_ref")
        ),
    )


def downgrade() -> None:
    op.drop_table("code_batch_customers")
    with op.batch_alter_table("code_batches") as batch:
        batch.drop_column("customers_until")
        batch.drop_column("expires_at")
        batch.drop_column("valid_for_seconds")
    with op.batch_alter_table("codes") as batch:
        batch.drop_column("customer_ref")
        batch.drop_column("expires_at")
        batch.drop_column("starts_at")
