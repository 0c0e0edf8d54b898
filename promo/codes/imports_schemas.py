"""HTTP shapes of code imports."""

from __future__ import annotations

from datetime import datetime

from promo.codes.batch_schemas import BatchStatus
from promo.codes.imports_lines import Reason
from promo.schemas import Schema


class CodeImportRead(Schema):
    id: str
    campaign_id: str
    filename: str | None
    """The uploaded file's name (console uploads); null through the API."""
    size: int
    """The file's size in bytes."""
    bytes_read: int
    percent: float
    """How much of the file was checked, by bytes, rounded down to 0.1."""
    status: BatchStatus
    lines_read: int
    """Lines of the file checked so far, the header and blank lines included."""
    imported: int
    """Codes created (kind ``vanity``)."""
    rejected: int
    """Lines refused, each listed with its reason at ``.../errors``."""
    error: str | None
    """Why the import failed as a whole (status ``failed``), else null."""
    created_at: datetime
    finished_at: datetime | None


class CodeImportPage(Schema):
    items: list[CodeImportRead]
    next_cursor: str | None


class CodeImportLineError(Schema):
    line: int
    """The line's number in the file, the header being line 1."""
    reason: Reason
    message: str
    code: str | None
    """The line's code cell as written (null when the line could not be read)."""
    duplicate_of: int | None
    """duplicate_in_file: the earlier line with the same code (canonical form)."""


class CodeImportErrorPage(Schema):
    items: list[CodeImportLineError]
    next_cursor: str | None
