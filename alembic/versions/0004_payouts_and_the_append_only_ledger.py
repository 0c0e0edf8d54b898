"""payouts and the append-only ledger

The ledger (entries, payouts and what each payout covers) is append-only:
triggers refuse UPDATE, DELETE and (on PostgreSQL) TRUNCATE, so even a
superuser connection cannot rewrite history by accident.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 11:34:12.721441
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


APPEND_ONLY = ("ledger_entries", "payouts", "payout_items")


def _protect() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            """
            CREATE FUNCTION promo_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'append-only: % on % is refused', TG_OP, TG_TABLE_NAME
                    USING ERRCODE = 'P0001';
            END $$
            """
        )
        for table in APPEND_ONLY:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION promo_append_only()"
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION promo_append_only()"
            )
        return
    for table in APPEND_ONLY:
        for operation in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{operation.lower()} BEFORE {operation} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, 'append-only: {operation} on {table} is refused'); END"
            )


def _unprotect() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in APPEND_ONLY:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
        op.execute("DROP FUNCTION IF EXISTS promo_append_only()")
        return
    for table in APPEND_ONLY:
        for operation in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{operation}")


def upgrade() -> None:
    op.create_table('payouts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('affiliate_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('as_of', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['affiliate_id'], ['affiliates.id'], name=op.f('fk_payouts_affiliate_id_affiliates')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payouts'))
    )
    op.create_index(op.f('ix_payouts_affiliate_id'), 'payouts', ['affiliate_id'], unique=False)
    op.create_table('payout_items',
    sa.Column('entry_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('payout_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.ForeignKeyConstraint(['entry_id'], ['ledger_entries.id'], name=op.f('fk_payout_items_entry_id_ledger_entries')),
    sa.ForeignKeyConstraint(['payout_id'], ['payouts.id'], name=op.f('fk_payout_items_payout_id_payouts')),
    sa.PrimaryKeyConstraint('entry_id', name=op.f('pk_payout_items'))
    )
    op.create_index(op.f('ix_payout_items_payout_id'), 'payout_items', ['payout_id'], unique=False)
    _protect()


def downgrade() -> None:
    _unprotect()
    op.drop_index(op.f('ix_payout_items_payout_id'), table_name='payout_items')
    op.drop_table('payout_items')
    op.drop_index(op.f('ix_payouts_affiliate_id'), table_name='payouts')
    op.drop_table('payouts')
