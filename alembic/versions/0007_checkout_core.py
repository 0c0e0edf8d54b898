"""The checkout core: first orders counted per identity, both identities of a redemption,
promo_abandon(step), answers stored only as complete

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'customer_orders',
        sa.Column('customer_key', sa.String(length=400), nullable=False),
        sa.Column('live', sa.Integer(), nullable=False),
        sa.CheckConstraint('live >= 0', name=op.f('ck_customer_orders_live_non_negative')),
        sa.PrimaryKeyConstraint('customer_key', name=op.f('pk_customer_orders')),
    )
    # Every customer who holds a live redemption today is past its first order.
    op.execute(
        "INSERT INTO customer_orders (customer_key, live) "
        "SELECT customer_key, sum(used) FROM customer_usage GROUP BY customer_key "
        "HAVING sum(used) > 0"
    )
    with op.batch_alter_table('redemptions') as batch:
        batch.add_column(sa.Column('customer_alt_key', sa.String(length=400), nullable=True))
    # Answers are now written with their effect: a record "in progress" is
    # one a stopped request left behind, and its retry must run again.
    op.execute("DELETE FROM idempotency_keys WHERE status_code IS NULL")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS promo_abandon()")
        op.execute(
            """
            CREATE FUNCTION promo_abandon(step text) RETURNS bigint LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'promo: the redemption stopped at % and changed nothing', step
                    USING ERRCODE = 'PR001', DETAIL = step;
            END $$
            """
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS promo_abandon(text)")
        op.execute(
            """
            CREATE FUNCTION promo_abandon() RETURNS bigint LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'promo: the redemption stopped short and changed nothing'
                    USING ERRCODE = 'PR001';
            END $$
            """
        )
    with op.batch_alter_table('redemptions') as batch:
        batch.drop_column('customer_alt_key')
    op.drop_table('customer_orders')
