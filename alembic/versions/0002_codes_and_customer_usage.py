"""codes and customer usage

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 11:14:35.902087
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('codes',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('campaign_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('canonical', sa.String(length=32), nullable=False),
    sa.Column('max_redemptions', sa.Integer(), nullable=True),
    sa.Column('used', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('live', sa.Boolean(), nullable=False),
    sa.Column('affiliate_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('used >= 0', name=op.f('ck_codes_used_non_negative')),
    sa.ForeignKeyConstraint(['affiliate_id'], ['affiliates.id'], name=op.f('fk_codes_affiliate_id_affiliates')),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_codes_campaign_id_campaigns')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_codes'))
    )
    op.create_index(op.f('ix_codes_affiliate_id'), 'codes', ['affiliate_id'], unique=False)
    op.create_index(op.f('ix_codes_campaign_id'), 'codes', ['campaign_id'], unique=False)
    op.create_index('uq_codes_canonical_live', 'codes', ['canonical'], unique=True, postgresql_where=sa.text('live'), sqlite_where=sa.text('live'))
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


def downgrade() -> None:
    op.drop_index(op.f('ix_customer_usage_customer_key'), table_name='customer_usage')
    op.drop_table('customer_usage')
    op.drop_index('uq_codes_canonical_live', table_name='codes', postgresql_where=sa.text('live'), sqlite_where=sa.text('live'))
    op.drop_index(op.f('ix_codes_campaign_id'), table_name='codes')
    op.drop_index(op.f('ix_codes_affiliate_id'), table_name='codes')
    op.drop_table('codes')
