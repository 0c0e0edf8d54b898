"""Imports of existing codes: receive the file, read an import and its refused lines.

The upload is read as a stream and stored as it arrives, in chunks of
``CHUNK_BYTES``, in the request's transaction: nothing of it stays on the host
that received it, and an upload refused halfway (too large, a bad header)
leaves nothing behind. Its header is checked as soon as it has arrived, so a
file that is not ours is refused before the rest is read. The lines are
checked and loaded by a job (``promo.codes.imports_run``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from promo.campaigns.models import Campaign
from promo.codes.batch_views import percent
from promo.codes.import_models import CodeImport, CodeImportChunk, CodeImportError
from promo.codes.imports_lines import MAX_HEADER_BYTES, HeaderError, message, parse_header
from promo.codes.imports_schemas import CodeImportLineError, CodeImportRead
from promo.errors import Conflict, FieldError, Invalid, NotFound, TooLarge
from promo.ids import Kind, encode

CHUNK_BYTES = 1024 * 1024
UNFINISHED = ("pending", "running")


def too_large(max_bytes: int) -> TooLarge:
    return TooLarge(
        "import_too_large",
        f"The file is larger than {max_bytes} bytes, the most one import takes: "
        "split it into several imports",
        extra={"max_bytes": max_bytes},
    )


def _bad_header(reason: str) -> Invalid:
    return Invalid(
        "invalid_csv_header",
        f"header: {reason}",
        errors=[FieldError("header", reason)],
    )


class _Chunks:
    """Writes the upload's bytes as they come, ``CHUNK_BYTES`` a row."""

    def __init__(self, session: AsyncSession, import_id: int) -> None:
        self.session = session
        self.import_id = import_id
        self.seq = 0
        self.pending = bytearray()

    async def add(self, data: bytes) -> None:
        self.pending += data
        while len(self.pending) >= CHUNK_BYTES:
            await self._write(bytes(self.pending[:CHUNK_BYTES]))
            del self.pending[:CHUNK_BYTES]

    async def close(self) -> None:
        if self.pending:
            await self._write(bytes(self.pending))
            self.pending.clear()

    async def _write(self, data: bytes) -> None:
        await self.session.execute(
            insert(CodeImportChunk).values(import_id=self.import_id, seq=self.seq, data=data)
        )
        self.seq += 1


async def create_import(
    session: AsyncSession,
    campaign: Campaign,
    body: AsyncIterator[bytes],
    *,
    max_bytes: int,
    filename: str | None,
    now: datetime,
) -> CodeImport:
    """Store the uploaded file ``body`` as a pending import of ``campaign``:
    409 ``campaign_archived``, 413 ``import_too_large`` past ``max_bytes``, 422
    ``invalid_csv_header`` when the first line is not a header of ours."""
    if campaign.status == "archived":
        raise Conflict("campaign_archived", "An archived campaign gets no new codes")
    row = CodeImport(
        campaign_id=campaign.id,
        filename=filename,
        size=0,
        status="pending",
        bytes_read=0,
        lines_read=0,
        imported=0,
        rejected=0,
        error=None,
        created_at=now,
        finished_at=None,
    )
    session.add(row)
    await session.flush()
    chunks = _Chunks(session, row.id)
    head = b""
    header_seen = False
    size = 0
    async for data in body:
        size += len(data)
        if size > max_bytes:
            raise too_large(max_bytes)
        if not header_seen:
            head += data
            newline = head.find(b"\n")
            if newline >= 0:
                parse_header_or_invalid(head[:newline])
                header_seen = True
            elif len(head) > MAX_HEADER_BYTES:
                raise _bad_header(f"the first line is longer than {MAX_HEADER_BYTES} bytes")
        await chunks.add(data)
    if not header_seen:
        if not head.strip():
            raise _bad_header(
                "the file is empty: it needs a header line naming its columns "
                "(code, and optionally max_redemptions)"
            )
        parse_header_or_invalid(head)
    await chunks.close()
    row.size = size
    await session.flush()
    return row


def parse_header_or_invalid(line: bytes) -> None:
    try:
        parse_header(line)
    except HeaderError as exc:
        raise _bad_header(str(exc)) from None


async def get_import(
    session: AsyncSession, campaign_id: int | None, import_id: int | None
) -> CodeImport:
    """The campaign's import; 404 ``import_not_found`` (also for another campaign's)."""
    row = await session.get(CodeImport, import_id) if import_id is not None else None
    if row is None or row.campaign_id != campaign_id:
        raise NotFound("import_not_found", "No such code import")
    return row


async def list_imports(
    session: AsyncSession, campaign_id: int, *, after_id: int | None, limit: int
) -> list[CodeImport]:
    """The campaign's imports, newest first, before ``after_id``."""
    query = (
        select(CodeImport)
        .where(CodeImport.campaign_id == campaign_id)
        .order_by(CodeImport.id.desc())
        .limit(limit)
    )
    if after_id is not None:
        query = query.where(CodeImport.id < after_id)
    return list((await session.scalars(query)).all())


async def list_errors(
    session: AsyncSession, import_id: int, *, after_line: int | None, limit: int
) -> list[CodeImportError]:
    """The import's refused lines in line order, after ``after_line``."""
    query = (
        select(CodeImportError)
        .where(CodeImportError.import_id == import_id)
        .order_by(CodeImportError.line)
        .limit(limit)
    )
    if after_line is not None:
        query = query.where(CodeImportError.line > after_line)
    return list((await session.scalars(query)).all())


def import_read(row: CodeImport) -> CodeImportRead:
    return CodeImportRead(
        id=encode(Kind.CODE_IMPORT, row.id),
        campaign_id=encode(Kind.CAMPAIGN, row.campaign_id),
        filename=row.filename,
        size=row.size,
        bytes_read=row.bytes_read,
        percent=percent(row.bytes_read, row.size),
        status=row.status,  # type: ignore[arg-type]
        lines_read=row.lines_read,
        imported=row.imported,
        rejected=row.rejected,
        error=row.error,
        created_at=row.created_at,
        finished_at=row.finished_at,
    )


def line_error_read(row: CodeImportError) -> CodeImportLineError:
    return CodeImportLineError(
        line=row.line,
        reason=row.reason,  # type: ignore[arg-type]
        message=message(row.reason, row.detail, row.duplicate_of),
        code=row.value,
        duplicate_of=row.duplicate_of,
    )
