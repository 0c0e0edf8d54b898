"""referral programs: campaign kind and terms, referrers, their codes and rewards

- campaigns.kind ('standard' for every existing campaign, or 'referral') and
  campaigns.referral (a referral program's terms, JSON).
- codes.kind also takes 'referral'; codes.referrer_ref, referrer_alt_ref: a
  referral code's referrer, as refs (promo.pii), for self-referrals.
- referrers: one per program and identity, with its code; referral_rewards:
  the one reward of each friend's redemption.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-04 02:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
INSTANT = sa.DateTime(timezone=True)
OLD_CODE_KINDS = "kind IN ('vanity', 'dedicated', 'alias', 'batch')"
NEW_CODE_KINDS = "kind IN ('vanity', 'dedicated', 'alias', 'batch', 'referral')"


def upgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.add_column(
            sa.Column(
                "kind", sa.String(length=16), server_default="standard", nullable=False
            )
        )
        batch.add_column(sa.Column("referral", sa.JSON(), nullable=True))
        batch.create_check_constraint(
            op.f("ck_campaigns_kind"), "kind IN ('standard', 'referral')"
        )
    with op.batch_alter_table("codes") as batch:
        batch.add_column(sa.Column("referrer_ref", sa.String(length=400), nullable=True))
        batch.add_column(sa.Column("referrer_alt_ref", sa.String(length=400), nullable=True))
        batch.drop_constraint(op.f("ck_codes_kind"), type_="check")
        batch.create_check_constraint(op.f("ck_codes_kind"), NEW_CODE_KINDS)
    op.create_table(
        "referrers",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("campaign_id", BIG_ID, nullable=False),
        sa.Column("customer_ref", sa.String(length=400), nullable=False),
        sa.Column("customer_alt_ref", sa.String(length=400), nullable=True),
        sa.Column("code_id", BIG_ID, nullable=True),
        sa.Column("rewards", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created_at", INSTANT, nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_referrers_campaign_id_campaigns")
        ),
        sa.ForeignKeyConstraint(["code_id"], ["codes.id"], name=op.f("fk_referrers_code_id_codes")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referrers")),
        sa.UniqueConstraint("code_id", name=op.f("uq_referrers_code_id")),
    )
    op.create_index(
        "uq_referrers_campaign_id_customer_ref",
        "referrers",
        ["campaign_id", "customer_ref"],
        unique=True,
    )
    op.create_table(
        "referral_rewards",
        sa.Column("redemption_id", BIG_ID, nullable=False),
        sa.Column("referrer_id", BIG_ID, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("code_id", BIG_ID, nullable=True),
        sa.Column("credit", sa.BigInteger(), nullable=True),
        sa.Column("created_at", INSTANT, nullable=False),
        sa.Column("revoked_at", INSTANT, nullable=True),
        sa.ForeignKeyConstraint(
            ["code_id"], ["codes.id"], name=op.f("fk_referral_rewards_code_id_codes")
        ),
        sa.ForeignKeyConstraint(
            ["redemption_id"],
            ["redemptions.id"],
            name=op.f("fk_referral_rewards_redemption_id_redemptions"),
        ),
        sa.ForeignKeyConstraint(
            ["referrer_id"],
            ["referrers.id"],
            name=op.f("fk_referral_rewards_referrer_id_referrers"),
        ),
        sa.PrimaryKeyConstraint("redemption_id", name=op.f("pk_referral_rewards")),
    )
    op.create_index(
        op.f("ix_referral_rewards_referrer_id"), "referral_rewards", ["referrer_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_referral_rewards_referrer_id"), table_name="referral_rewards")
    op.drop_table("referral_rewards")
    op.drop_index("uq_referrers_campaign_id_customer_ref", table_name="referrers")
    op.drop_table("referrers")
    with op.batch_alter_table("codes") as batch:
        batch.drop_constraint(op.f("ck_codes_kind"), type_="check")
        batch.create_check_constraint(op.f("ck_codes_kind"), OLD_CODE_KINDS)
        batch.drop_column("referrer_alt_ref")
        batch.drop_column("referrer_ref")
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_constraint(op.f("ck_campaigns_kind"), type_="check")
        batch.drop_column("referral")
        batch.drop_column("kind")
