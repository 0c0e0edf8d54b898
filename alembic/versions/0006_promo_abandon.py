"""promo_abandon(): how a one-statement redemption changes nothing when it stops short

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 16:05:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # PostgreSQL only: SQLite redeems step by step in a transaction.
    # promo.redemptions.one_statement calls it when a step refused; the error
    # (SQLSTATE PR001) undoes the whole autocommitted statement.
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            """
            CREATE FUNCTION promo_abandon() RETURNS bigint LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'promo: the redemption stopped short and changed nothing'
                    USING ERRCODE = 'PR001';
            END $$
            """
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS promo_abandon()")
