"""code batches: display pattern, index on the canonical pattern

A batch keeps the pattern as typed (``SUM-####``, the display form of its
codes) next to the canonical one (``SUM####``), which the guessability bound
sums over, hence the index.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("code_batches", sa.Column("display_pattern", sa.String(length=64), nullable=True))
    # Batches made before this revision: their pattern is the best display form known.
    op.execute("UPDATE code_batches SET display_pattern = pattern")
    with op.batch_alter_table("code_batches") as batch:
        batch.alter_column("display_pattern", existing_type=sa.String(length=64), nullable=False)
    op.create_index(op.f("ix_code_batches_pattern"), "code_batches", ["pattern"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_code_batches_pattern"), table_name="code_batches")
    with op.batch_alter_table("code_batches") as batch:
        batch.drop_column("display_pattern")
