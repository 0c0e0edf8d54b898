"""codes, batches, redemptions, idempotency, ledger

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 11:20:39.764756
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('idempotency_keys',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('scope', sa.String(length=128), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=True),
    sa.Column('response_body', sa.LargeBinary(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_idempotency_keys')),
    sa.UniqueConstraint('scope', 'key', name=op.f('uq_idempotency_keys_scope_key'))
    )
    op.create_index(op.f('ix_idempotency_keys_created_at'), 'idempotency_keys', ['created_at'], unique=False)
    op.create_table('code_batches',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('campaign_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('affiliate_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('pattern', sa.String(length=64), nullable=False),
    sa.Column('charset', sa.String(length=64), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('max_redemptions_per_code', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('generated', sa.Integer(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('pending', 'running', 'done', 'failed')", name=op.f('ck_code_batches_status')),
    sa.CheckConstraint('generated >= 0 AND generated <= count', name=op.f('ck_code_batches_generated_in_range')),
    sa.ForeignKeyConstraint(['affiliate_id'], ['affiliates.id'], name=op.f('fk_code_batches_affiliate_id_affiliates')),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_code_batches_campaign_id_campaigns')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_code_batches'))
    )
    op.create_index(op.f('ix_code_batches_campaign_id'), 'code_batches', ['campaign_id'], unique=False)
    op.create_table('customer_usage',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('campaign_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('customer_key', sa.String(length=400), nullable=False),
    sa.Column('used', sa.Integer(), nullable=False),
    sa.CheckConstraint('used >= 0', name=op.f('ck_customer_usage_used_non_negative')),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_customer_usage_campaign_id_campaigns')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customer_usage')),
    sa.UniqueConstraint('campaign_id', 'customer_key', name=op.f('uq_customer_usage_campaign_id_customer_key'))
    )
    op.create_index(op.f('ix_customer_usage_customer_key'), 'customer_usage', ['customer_key'], unique=False)
    op.create_table('codes',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('campaign_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('canonical', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('max_redemptions', sa.Integer(), nullable=True),
    sa.Column('used', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('live', sa.Boolean(), nullable=False),
    sa.Column('affiliate_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('batch_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('vanity', 'dedicated', 'alias', 'batch')", name=op.f('ck_codes_kind')),
    sa.CheckConstraint('used >= 0', name=op.f('ck_codes_used_non_negative')),
    sa.ForeignKeyConstraint(['affiliate_id'], ['affiliates.id'], name=op.f('fk_codes_affiliate_id_affiliates')),
    sa.ForeignKeyConstraint(['batch_id'], ['code_batches.id'], name=op.f('fk_codes_batch_id_code_batches')),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_codes_campaign_id_campaigns')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_codes'))
    )
    op.create_index(op.f('ix_codes_affiliate_id'), 'codes', ['affiliate_id'], unique=False)
    op.create_index(op.f('ix_codes_batch_id'), 'codes', ['batch_id'], unique=False)
    op.create_index(op.f('ix_codes_campaign_id'), 'codes', ['campaign_id'], unique=False)
    op.create_index('uq_codes_canonical_live', 'codes', ['canonical'], unique=True, postgresql_where=sa.text('live'), sqlite_where=sa.text('live = 1'))
    op.create_index('uq_codes_dedicated', 'codes', ['campaign_id', 'affiliate_id'], unique=True, postgresql_where=sa.text("kind = 'dedicated'"), sqlite_where=sa.text("kind = 'dedicated'"))
    op.create_table('redemptions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('code_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('campaign_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('affiliate_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('customer_key', sa.String(length=400), nullable=True),
    sa.Column('customer_id', sa.String(length=128), nullable=True),
    sa.Column('order_id', sa.String(length=128), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('order_amount', sa.BigInteger(), nullable=False),
    sa.Column('discount_total', sa.BigInteger(), nullable=False),
    sa.Column('discount_shipping', sa.BigInteger(), nullable=False),
    sa.Column('discount_lines', sa.JSON(), nullable=False),
    sa.Column('commission', sa.BigInteger(), nullable=False),
    sa.Column('commission_fixed', sa.BigInteger(), nullable=False),
    sa.Column('refunded_amount', sa.BigInteger(), nullable=False),
    sa.Column('budget_returned', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('rolled_back_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint('refunded_amount >= 0 AND refunded_amount <= order_amount', name=op.f('ck_redemptions_refund')),
    sa.ForeignKeyConstraint(['affiliate_id'], ['affiliates.id'], name=op.f('fk_redemptions_affiliate_id_affiliates')),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_redemptions_campaign_id_campaigns')),
    sa.ForeignKeyConstraint(['code_id'], ['codes.id'], name=op.f('fk_redemptions_code_id_codes')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_redemptions'))
    )
    op.create_index(op.f('ix_redemptions_affiliate_id'), 'redemptions', ['affiliate_id'], unique=False)
    op.create_index(op.f('ix_redemptions_campaign_id'), 'redemptions', ['campaign_id'], unique=False)
    op.create_index(op.f('ix_redemptions_code_id'), 'redemptions', ['code_id'], unique=False)
    op.create_index(op.f('ix_redemptions_created_at'), 'redemptions', ['created_at'], unique=False)
    op.create_index(op.f('ix_redemptions_customer_key'), 'redemptions', ['customer_key'], unique=False)
    op.create_index('uq_redemptions_order_live', 'redemptions', ['order_id'], unique=True, postgresql_where=sa.text('rolled_back_at IS NULL'), sqlite_where=sa.text('rolled_back_at IS NULL'))
    op.create_table('ledger_entries',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('redemption_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('order_id', sa.String(length=128), nullable=True),
    sa.Column('code', sa.String(length=64), nullable=True),
    sa.Column('campaign_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('affiliate_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('order_amount', sa.BigInteger(), nullable=False),
    sa.Column('discount', sa.BigInteger(), nullable=False),
    sa.Column('commission', sa.BigInteger(), nullable=False),
    sa.Column('available_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('payout_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.CheckConstraint("kind IN ('redemption', 'reversal', 'refund', 'adjustment', 'payout')", name=op.f('ck_ledger_entries_kind')),
    sa.ForeignKeyConstraint(['affiliate_id'], ['affiliates.id'], name=op.f('fk_ledger_entries_affiliate_id_affiliates')),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_ledger_entries_campaign_id_campaigns')),
    sa.ForeignKeyConstraint(['redemption_id'], ['redemptions.id'], name=op.f('fk_ledger_entries_redemption_id_redemptions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_entries'))
    )
    op.create_index(op.f('ix_ledger_entries_affiliate_id'), 'ledger_entries', ['affiliate_id'], unique=False)
    op.create_index(op.f('ix_ledger_entries_campaign_id'), 'ledger_entries', ['campaign_id'], unique=False)
    op.create_index(op.f('ix_ledger_entries_created_at'), 'ledger_entries', ['created_at'], unique=False)
    op.create_index(op.f('ix_ledger_entries_redemption_id'), 'ledger_entries', ['redemption_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_ledger_entries_redemption_id'), table_name='ledger_entries')
    op.drop_index(op.f('ix_ledger_entries_created_at'), table_name='ledger_entries')
    op.drop_index(op.f('ix_ledger_entries_campaign_id'), table_name='ledger_entries')
    op.drop_index(op.f('ix_ledger_entries_affiliate_id'), table_name='ledger_entries')
    op.drop_table('ledger_entries')
    op.drop_index('uq_redemptions_order_live', table_name='redemptions', postgresql_where=sa.text('rolled_back_at IS NULL'), sqlite_where=sa.text('rolled_back_at IS NULL'))
    op.drop_index(op.f('ix_redemptions_customer_key'), table_name='redemptions')
    op.drop_index(op.f('ix_redemptions_created_at'), table_name='redemptions')
    op.drop_index(op.f('ix_redemptions_code_id'), table_name='redemptions')
    op.drop_index(op.f('ix_redemptions_campaign_id'), table_name='redemptions')
    op.drop_index(op.f('ix_redemptions_affiliate_id'), table_name='redemptions')
    op.drop_table('redemptions')
    op.drop_index('uq_codes_dedicated', table_name='codes', postgresql_where=sa.text("kind = 'dedicated'"), sqlite_where=sa.text("kind = 'dedicated'"))
    op.drop_index('uq_codes_canonical_live', table_name='codes', postgresql_where=sa.text('live'), sqlite_where=sa.text('live = 1'))
    op.drop_index(op.f('ix_codes_campaign_id'), table_name='codes')
    op.drop_index(op.f('ix_codes_batch_id'), table_name='codes')
    op.drop_index(op.f('ix_codes_affiliate_id'), table_name='codes')
    op.drop_table('codes')
    op.drop_index(op.f('ix_customer_usage_customer_key'), table_name='customer_usage')
    op.drop_table('customer_usage')
    op.drop_index(op.f('ix_code_batches_campaign_id'), table_name='code_batches')
    op.drop_table('code_batches')
    op.drop_index(op.f('ix_idempotency_keys_created_at'), table_name='idempotency_keys')
    op.drop_table('idempotency_keys')
