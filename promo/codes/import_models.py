"""Imports of existing codes from another system: the upload, its stored bytes,
the canonical forms it has met, and the lines it refused.

The uploaded CSV is kept in the database (``code_import_chunks``), the only
store every host shares, so whichever worker leases the import's job reads it.
``code_import_lines`` holds the first line of each canonical form the run has
met (what makes a later line a duplicate within the file, across rounds and
across a resumed run); it and the chunks are deleted when the import ends.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from promo.db.metadata import Base, BigId, UtcDateTime


class CodeImport(Base):
    """One uploaded file of codes for a campaign, and the progress of its job."""

    __tablename__ = "code_imports"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'running', 'done', 'failed')", name="status"),
        CheckConstraint("bytes_read >= 0 AND bytes_read <= size", name="bytes_read_in_range"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(BigId, ForeignKey("campaigns.id"), index=True)
    # The file's name as uploaded from the console (None through the API).
    filename: Mapped[str | None] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigId)
    status: Mapped[str] = mapped_column(String(16))
    # Where the next round starts: the offset of its first line's first byte,
    # and how many lines (the header included) come before it.
    bytes_read: Mapped[int] = mapped_column(BigId, default=0)
    lines_read: Mapped[int] = mapped_column(Integer, default=0)
    imported: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    # Why the import as a whole failed (the campaign archived, a job out of attempts).
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class CodeImportChunk(Base):
    """The uploaded bytes, in order: every chunk but the last is ``CHUNK_BYTES`` long."""

    __tablename__ = "code_import_chunks"

    import_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("code_imports.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class CodeImportLine(Base):
    """The first line of the file with each canonical form (while the import runs)."""

    __tablename__ = "code_import_lines"

    # No foreign key: its check, per row, would cost a round as much as the
    # insert itself; the rows go with their import's end (imports_run._forget).
    import_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    canonical: Mapped[str] = mapped_column(String(32), primary_key=True)
    line: Mapped[int] = mapped_column(Integer)


class CodeImportError(Base):
    """A line the import refused, with its reason (``promo.codes.imports_lines.REASONS``)."""

    __tablename__ = "code_import_errors"

    import_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("code_imports.id", ondelete="CASCADE"), primary_key=True
    )
    line: Mapped[int] = mapped_column(Integer, primary_key=True)
    reason: Mapped[str] = mapped_column(String(32))
    # The reason's particulars (why a code is invalid); None when the reason says it all.
    detail: Mapped[str | None] = mapped_column(Text)
    # The line's code cell as written (cut to 64 characters), when there was one.
    value: Mapped[str | None] = mapped_column(String(64))
    # duplicate_in_file: the earlier line with the same canonical form.
    duplicate_of: Mapped[int | None] = mapped_column(Integer)
