"""code imports: existing codes uploaded as CSV and loaded by a job

- code_imports: one per upload, with the progress of its job.
- code_import_chunks: the uploaded bytes, kept in the database (the one
  store every host shares) until the import ends.
- code_import_lines: the first line of each canonical form met, while the
  import runs (duplicates within the file, across rounds and resumed runs).
- code_import_errors: the refused lines, by line number.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04 01:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _import_key() -> sa.Column:  # type: ignore[type-arg]
    return sa.Column("import_id", BIG_ID, nullable=False)


def _import_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["import_id"],
        ["code_imports.id"],
        name=op.f(f"fk_{table}_import_id_code_imports"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "code_imports",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("campaign_id", BIG_ID, nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=True),
        sa.Column("size", BIG_ID, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("bytes_read", BIG_ID, nullable=False),
        sa.Column("lines_read", sa.Integer(), nullable=False),
        sa.Column("imported", sa.Integer(), nullable=False),
        sa.Column("rejected", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'running', 'done', 'failed')",
            name=op.f("ck_code_imports_status"),
        ),
        sa.CheckConstraint(
            "bytes_read >= 0 AND bytes_read <= size",
            name=op.f("ck_code_imports_bytes_read_in_range"),
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_code_imports_campaign_id_campaigns")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_code_imports")),
    )
    op.create_index(
        op.f("ix_code_imports_campaign_id"), "code_imports", ["campaign_id"], unique=False
    )
    op.create_table(
        "code_import_chunks",
        _import_key(),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        _import_fk("code_import_chunks"),
        sa.PrimaryKeyConstraint("import_id", "seq", name=op.f("pk_code_import_chunks")),
    )
    op.create_table(
        "code_import_lines",
        _import_key(),
        sa.Column("canonical", sa.String(length=32), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("import_id", "canonical", name=op.f("pk_code_import_lines")),
    )
    op.create_table(
        "code_import_errors",
        _import_key(),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("value", sa.String(length=64), nullable=True),
        sa.Column("duplicate_of", sa.Integer(), nullable=True),
        _import_fk("code_import_errors"),
        sa.PrimaryKeyConstraint("import_id", "line", name=op.f("pk_code_import_errors")),
    )


def downgrade() -> None:
    op.drop_table("code_import_errors")
    op.drop_table("code_import_lines")
    op.drop_table("code_import_chunks")
    op.drop_index(op.f("ix_code_imports_campaign_id"), table_name="code_imports")
    op.drop_table("code_imports")
