"""jobs: durable background work, leased by workers (promo.jobs)

Code batches left pending or running by the previous version (which ran them
as tasks of the server and failed them on restart) get a job each, so the
new workers resume them.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 15:30:00.000000
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNFINISHED = "status IN ('queued', 'running')"


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("unique_key", sa.String(length=200), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("run_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("lease_owner", sa.String(length=128), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'done', 'failed')", name=op.f("ck_jobs_status")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
    )
    op.create_index(op.f("ix_jobs_kind"), "jobs", ["kind"], unique=False)
    op.create_index(op.f("ix_jobs_created_at"), "jobs", ["created_at"], unique=False)
    op.create_index(
        "ix_jobs_due",
        "jobs",
        ["run_at"],
        unique=False,
        postgresql_where=sa.text(UNFINISHED),
        sqlite_where=sa.text(UNFINISHED),
    )
    op.create_index(
        "uq_jobs_unfinished_key",
        "jobs",
        ["unique_key"],
        unique=True,
        postgresql_where=sa.text(UNFINISHED),
        sqlite_where=sa.text(UNFINISHED),
    )
    batches = sa.table("code_batches", sa.column("id"), sa.column("status"))
    jobs = sa.table(
        "jobs",
        sa.column("kind"),
        sa.column("payload", sa.JSON()),
        sa.column("unique_key"),
        sa.column("status"),
        sa.column("run_at", sa.DateTime(timezone=True)),
        sa.column("attempts"),
        sa.column("max_attempts"),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("updated_at", sa.DateTime(timezone=True)),
    )
    connection = op.get_bind()
    unfinished = connection.execute(
        sa.select(batches.c.id).where(batches.c.status.in_(("pending", "running")))
    ).scalars()
    # As promo.db.metadata.UtcDateTime stores instants: naive UTC on SQLite.
    now = datetime.now(UTC)
    if connection.dialect.name == "sqlite":
        now = now.replace(tzinfo=None)
    for batch_id in unfinished:
        connection.execute(
            sa.insert(jobs).values(
                kind="code_batch",
                payload={"batch_id": batch_id},
                unique_key=f"code_batch:{batch_id}",
                status="queued",
                run_at=now,
                attempts=0,
                max_attempts=8,
                created_at=now,
                updated_at=now,
            )
        )


def downgrade() -> None:
    op.drop_index("uq_jobs_unfinished_key", table_name="jobs")
    op.drop_index("ix_jobs_due", table_name="jobs")
    op.drop_index(op.f("ix_jobs_created_at"), table_name="jobs")
    op.drop_index(op.f("ix_jobs_kind"), table_name="jobs")
    op.drop_table("jobs")
