"""reservations: a discount held while the shopper pays

- reservations: the held discount (every counter and the budget consumed by
  the redemption's own steps) until it is confirmed, released or expired;
  partial indexes on the held ones for the expiry's scan and for the held
  uses of a code (``code_reserved``).

Revision ID: 0022
Revises: 0020
Create Date: 2026-12-04 04:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
INSTANT = sa.DateTime(timezone=True)
HELD = sa.text("status = 'held'")


def upgrade() -> None:
    op.create_table(
        "reservations",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("code_id", BIG_ID, nullable=False),
        sa.Column("campaign_id", BIG_ID, nullable=False),
        sa.Column("affiliate_id", BIG_ID, nullable=True),
        sa.Column("customer_ref", sa.String(length=400), nullable=True),
        sa.Column("customer_alt_ref", sa.String(length=400), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("discount_total", sa.BigInteger(), nullable=False),
        sa.Column("discount_shipping", sa.BigInteger(), nullable=False),
        sa.Column("discount_lines", sa.JSON(), nullable=False),
        sa.Column("terms", sa.JSON(), nullable=False),
        sa.Column("created_at", INSTANT, nullable=False),
        sa.Column("expires_at", INSTANT, nullable=False),
        sa.Column("ended_at", INSTANT, nullable=True),
        sa.Column("order_id", sa.String(length=128), nullable=True),
        sa.Column("redemption_id", BIG_ID, nullable=True),
        sa.CheckConstraint(
            "status IN ('held', 'confirmed', 'released', 'expired')",
            name=op.f("ck_reservations_status"),
        ),
        sa.ForeignKeyConstraint(
            ["code_id"], ["codes.id"], name=op.f("fk_reservations_code_id_codes")
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_reservations_campaign_id_campaigns")
        ),
        sa.ForeignKeyConstraint(
            ["affiliate_id"],
            ["affiliates.id"],
            name=op.f("fk_reservations_affiliate_id_affiliates"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reservations")),
    )
    op.create_index(
        op.f("ix_reservations_campaign_id"), "reservations", ["campaign_id"], unique=False
    )
    op.create_index(
        "ix_reservations_held_expiry",
        "reservations",
        ["expires_at"],
        unique=False,
        postgresql_where=HELD,
        sqlite_where=HELD,
    )
    op.create_index(
        "ix_reservations_held_code",
        "reservations",
        ["code_id", "expires_at"],
        unique=False,
        postgresql_where=HELD,
        sqlite_where=HELD,
    )


def downgrade() -> None:
    op.drop_index("ix_reservations_held_code", table_name="reservations")
    op.drop_index("ix_reservations_held_expiry", table_name="reservations")
    op.drop_index(op.f("ix_reservations_campaign_id"), table_name="reservations")
    op.drop_table("reservations")
