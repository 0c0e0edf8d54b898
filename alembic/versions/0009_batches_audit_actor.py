"""audit_log.actor: "api" (a request, with its key) or "cli:<OS user>" (the command line)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 13:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Every existing line was written by a request: "api".
    op.add_column(
        'audit_log',
        sa.Column('actor', sa.String(length=128), server_default='api', nullable=False),
    )


def downgrade() -> None:
    with op.batch_alter_table('audit_log') as batch_op:
        batch_op.drop_column('actor')
