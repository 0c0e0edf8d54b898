"""foundation: api keys, affiliates, campaigns

Revision ID: 0001
Revises:
Create Date: 2026-11-26 11:04:48.950352
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('affiliates',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('email_key', sa.String(length=320), nullable=False),
    sa.Column('commission_percent', sa.Numeric(precision=5, scale=2), nullable=True),
    sa.Column('commission_fixed', sa.BigInteger(), nullable=True),
    sa.Column('payout_thresholds', sa.JSON(), nullable=False),
    sa.Column('holding_days', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_affiliates'))
    )
    op.create_index(op.f('ix_affiliates_email_key'), 'affiliates', ['email_key'], unique=False)

    op.create_table('campaigns',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('timezone', sa.String(length=64), nullable=True),
    sa.Column('code_prefix', sa.String(length=16), nullable=True),
    sa.Column('open_to_affiliates', sa.Boolean(), nullable=False),
    sa.Column('discount_type', sa.String(length=16), nullable=False),
    sa.Column('percent_off', sa.Numeric(precision=5, scale=2), nullable=True),
    sa.Column('max_discount', sa.BigInteger(), nullable=True),
    sa.Column('amount_off', sa.BigInteger(), nullable=True),
    sa.Column('rules', sa.JSON(), nullable=False),
    sa.Column('max_redemptions', sa.Integer(), nullable=True),
    sa.Column('max_redemptions_per_customer', sa.Integer(), nullable=True),
    sa.Column('budget', sa.BigInteger(), nullable=True),
    sa.Column('redemptions_used', sa.Integer(), nullable=False),
    sa.Column('budget_used', sa.BigInteger(), nullable=False),
    sa.Column('commission_percent', sa.Numeric(precision=5, scale=2), nullable=True),
    sa.Column('commission_fixed', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("discount_type IN ('percentage', 'fixed_amount', 'free_shipping')", name=op.f('ck_campaigns_discount_type')),
    sa.CheckConstraint("status IN ('draft', 'active', 'paused', 'archived')", name=op.f('ck_campaigns_status')),
    sa.CheckConstraint("(discount_type = 'percentage') = (percent_off IS NOT NULL)", name=op.f('ck_campaigns_percent_off')),
    sa.CheckConstraint("(discount_type = 'fixed_amount') = (amount_off IS NOT NULL)", name=op.f('ck_campaigns_amount_off')),
    sa.CheckConstraint('budget_used >= 0', name=op.f('ck_campaigns_budget_used_non_negative')),
    sa.CheckConstraint('redemptions_used >= 0', name=op.f('ck_campaigns_redemptions_used_non_negative')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaigns'))
    )
    op.create_index(op.f('ix_campaigns_status'), 'campaigns', ['status'], unique=False)

    op.create_table('api_keys',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('affiliate_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('prefix', sa.String(length=16), nullable=False),
    sa.Column('secret_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("(role = 'affiliate') = (affiliate_id IS NOT NULL)", name=op.f('ck_api_keys_affiliate_iff_role')),
    sa.CheckConstraint("role IN ('admin', 'marketer', 'checkout', 'affiliate', 'accountant')", name=op.f('ck_api_keys_role')),
    sa.ForeignKeyConstraint(['affiliate_id'], ['affiliates.id'], name=op.f('fk_api_keys_affiliate_id_affiliates')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_keys')),
    sa.UniqueConstraint('secret_hash', name=op.f('uq_api_keys_secret_hash'))
    )
    op.create_index(op.f('ix_api_keys_affiliate_id'), 'api_keys', ['affiliate_id'], unique=False)



def downgrade() -> None:
    op.drop_index(op.f('ix_api_keys_affiliate_id'), table_name='api_keys')
    op.drop_table('api_keys')
    op.drop_index(op.f('ix_campaigns_status'), table_name='campaigns')
    op.drop_table('campaigns')
    op.drop_index(op.f('ix_affiliates_email_key'), table_name='affiliates')
    op.drop_table('affiliates')
