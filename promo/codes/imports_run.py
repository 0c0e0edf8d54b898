"""Runs of an import: committed rounds of lines, progress, stop, resume.

A run claims its import (``running``), reads the stored file from where the
import's last round ended (``bytes_read``, ``lines_read``), and takes its
lines a round at a time (``ROUND_POSTGRES``/``ROUND_SQLITE`` lines). Each
round is one transaction that writes everything the round decided: the codes
it loaded, the canonical forms it met first (``code_import_lines``), the lines
it refused, and the import's new position and counts. So a run killed
anywhere (SIGKILL, a lost host) loses at most its round in flight, and the
next run, on whichever worker takes the job, starts where the last committed
round ended: no line is loaded twice, and no line is reported as a duplicate
of the import's own earlier codes (those are ``duplicate_in_file`` of the
line that loaded them, found in ``code_import_lines``).

Valid lines are loaded even when others are refused; the refused ones are
listed by line. Loading goes through the unique index of live canonical
forms (``ON CONFLICT DO NOTHING``), so a code taken meanwhile by another
request is refused as ``code_taken``, never a failed round.

- PostgreSQL: the round's candidates are COPYed (asyncpg
  ``copy_records_to_table``) into a temporary staging table dropped at the
  end of the round (and ``ON COMMIT DROP``), then one statement records the
  first forms, loads the codes and answers the candidates not loaded; the
  refused lines are COPYed into ``code_import_errors``.
- SQLite: the same steps as ``INSERT .. ON CONFLICT DO NOTHING RETURNING``,
  executemany.

Like a batch's round, each round holds the campaign ``FOR KEY SHARE``
(``promo.codes.rounds.hold_campaign``): archiving waits for it, and a round
after an archive fails the import. The round that ends the import deletes
its stored file and its first forms.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from promo.clock import Clock
from promo.codes import imports
from promo.codes.generation import Bind, Interrupted
from promo.codes.import_models import CodeImport, CodeImportChunk, CodeImportError, CodeImportLine
from promo.codes.imports_lines import (
    MAX_HEADER_BYTES,
    Candidate,
    Columns,
    Rejection,
    Splitter,
    duplicate,
    parse_header,
    sort_lines,
    taken,
)
from promo.codes.models import Code
from promo.codes.rounds import hold_campaign
from promo.db import dialect
from promo.db.engine import create_sessionmaker

ROUND_POSTGRES = 100_000
ROUND_SQLITE = 10_000
# SQLite's bound on the parameters of one statement, with room to spare.
SQLITE_IN_LIST = 500

Sessions = Callable[[], AsyncSession]
Line = tuple[int, bytes, int]


class ImportStopped(Exception):
    """The import cannot go on; the message is stored as its error."""


@dataclass(frozen=True)
class Loaded:
    """What loading a round's candidates did."""

    imported: int
    # Candidates whose form an earlier round met first: that round's line.
    earlier: dict[str, int]
    # Candidates whose form a live code has.
    taken: set[str]


STAGING = "promo_import_staging"
CREATE_STAGING = (
    "CREATE TEMP TABLE promo_import_staging (line integer, code text, canonical text, "
    "max_redemptions integer) ON COMMIT DROP"
)
DROP_STAGING = "DROP TABLE promo_import_staging"
ROUND_SETTINGS = "SET LOCAL work_mem = '64MB'; SET LOCAL jit = off"
# The staging rows are the round's first lines of distinct forms. A form
# another round met first is not in ``firsts``; a first form a live code
# has is not in ``loaded``. The snapshot of the statement shows the earlier
# rounds' forms (``l``), not the ones it inserts. Rows in canonical order:
# concurrent writers of the same codes take their index locks in one order.
LOAD_FROM_STAGING = """
WITH firsts AS (
    INSERT INTO code_import_lines (import_id, canonical, line)
    SELECT $1::bigint, canonical, line FROM promo_import_staging ORDER BY canonical
    ON CONFLICT DO NOTHING
    RETURNING canonical
), loaded AS (
    INSERT INTO codes (campaign_id, code, canonical, kind, max_redemptions, used, active,
                       live, created_at)
    SELECT $2::bigint, s.code, s.canonical, 'vanity', s.max_redemptions, 0, true, true,
           $3::timestamptz
    FROM promo_import_staging s JOIN firsts f ON f.canonical = s.canonical
    ORDER BY s.canonical
    ON CONFLICT (canonical) WHERE live DO NOTHING
    RETURNING canonical
)
SELECT s.canonical, l.line AS first_line,
       (SELECT count(*) FROM loaded) AS imported
FROM promo_import_staging s
LEFT JOIN loaded c ON c.canonical = s.canonical
LEFT JOIN code_import_lines l ON l.import_id = $1::bigint AND l.canonical = s.canonical
WHERE c.canonical IS NULL
UNION ALL
SELECT NULL, NULL, (SELECT count(*) FROM loaded)
"""
ERROR_COLUMNS = ["import_id", "line", "reason", "detail", "value", "duplicate_of"]


async def _load_copy(
    session: AsyncSession, job: CodeImport, candidates: Sequence[Candidate], now: datetime
) -> Loaded:
    connection = await session.connection()
    # The asyncpg connection under SQLAlchemy's, inside the session's transaction.
    raw: Any = (await connection.get_raw_connection()).driver_connection
    # For this transaction only: sorts and hashes of a round's rows in memory,
    # and no JIT compilation (it costs a round more than it saves).
    await raw.execute(ROUND_SETTINGS)
    await raw.execute(CREATE_STAGING)
    await raw.copy_records_to_table(
        STAGING,
        records=[(c.line, c.code, c.canonical, c.max_redemptions) for c in candidates],
        columns=["line", "code", "canonical", "max_redemptions"],
    )
    rows = await raw.fetch(LOAD_FROM_STAGING, job.id, job.campaign_id, now)
    await raw.execute(DROP_STAGING)
    imported = 0
    earlier: dict[str, int] = {}
    refused: set[str] = set()
    for form, first_line, count in rows:
        if form is None:
            imported = int(count)
        elif first_line is not None:
            earlier[form] = int(first_line)
        else:
            refused.add(form)
    return Loaded(imported, earlier, refused)


async def _load_executemany(
    session: AsyncSession, job: CodeImport, candidates: Sequence[Candidate], now: datetime
) -> Loaded:
    if not candidates:
        return Loaded(0, {}, set())
    firsts = dialect.insert(session, CodeImportLine).on_conflict_do_nothing()
    met = set(
        (
            await session.execute(
                firsts.returning(CodeImportLine.canonical),
                [
                    {"import_id": job.id, "canonical": c.canonical, "line": c.line}
                    for c in candidates
                ],
            )
        ).scalars()
    )
    seen_before = [c.canonical for c in candidates if c.canonical not in met]
    earlier: dict[str, int] = {}
    for start in range(0, len(seen_before), SQLITE_IN_LIST):
        part = seen_before[start : start + SQLITE_IN_LIST]
        found = await session.execute(
            select(CodeImportLine.canonical, CodeImportLine.line).where(
                CodeImportLine.import_id == job.id, CodeImportLine.canonical.in_(part)
            )
        )
        earlier.update({form: line for form, line in found})
    fresh = [c for c in candidates if c.canonical in met]
    loaded: set[str] = set()
    if fresh:
        codes = dialect.insert(session, Code).on_conflict_do_nothing().returning(Code.canonical)
        rows = [
            {
                "campaign_id": job.campaign_id,
                "code": c.code,
                "canonical": c.canonical,
                "kind": "vanity",
                "max_redemptions": c.max_redemptions,
                "used": 0,
                "active": True,
                "live": True,
                "created_at": now,
            }
            for c in fresh
        ]
        loaded = set((await session.execute(codes, rows)).scalars())
    return Loaded(len(loaded), earlier, {c.canonical for c in fresh} - loaded)


def _error_rows(import_id: int, rejections: Sequence[Rejection]) -> list[tuple[Any, ...]]:
    return [(import_id, r.line, r.reason, r.detail, r.value, r.duplicate_of) for r in rejections]


async def _store_errors(session: AsyncSession, import_id: int, rejections: list[Rejection]) -> None:
    if not rejections:
        return
    records = _error_rows(import_id, rejections)
    if dialect.is_postgres(session):
        connection = await session.connection()
        raw: Any = (await connection.get_raw_connection()).driver_connection
        await raw.copy_records_to_table(
            "code_import_errors", records=records, columns=ERROR_COLUMNS
        )
        return
    await session.execute(
        insert(CodeImportError),
        [dict(zip(ERROR_COLUMNS, record, strict=True)) for record in records],
    )


def judged(
    candidates: Sequence[Candidate], rejected: Sequence[Rejection], loaded: Loaded
) -> list[Rejection]:
    """Every refused line of a round, in line order: its own refusals, and the
    candidates the database refused. A duplicate names the file's first line
    of its form, even when that line is in an earlier round."""
    found = list(rejected)
    for candidate in candidates:
        if candidate.canonical in loaded.earlier:
            found.append(duplicate(candidate, loaded.earlier[candidate.canonical]))
        elif candidate.canonical in loaded.taken:
            found.append(taken(candidate))
    out = []
    for r in found:
        if r.reason == "duplicate_in_file" and r.canonical in loaded.earlier:
            r = Rejection(r.line, r.reason, r.value, duplicate_of=loaded.earlier[r.canonical])
        out.append(r)
    return sorted(out, key=lambda r: r.line)


async def _read_header(sessions: Sessions, import_id: int) -> Columns:
    """The stored file's header (its first line: the upload checked it)."""
    head = b""
    async with sessions() as session:
        for seq in itertools.count():
            data = await session.scalar(
                select(CodeImportChunk.data).where(
                    CodeImportChunk.import_id == import_id, CodeImportChunk.seq == seq
                )
            )
            if data is None:
                break
            head += data
            if b"\n" in head or len(head) > MAX_HEADER_BYTES:
                break
    if not head:
        raise ImportStopped("the uploaded file is gone")
    return parse_header(head.split(b"\n", 1)[0])


class _Reader:
    """The stored file's lines from a position, a chunk read (in its own short
    session) when the lines in hand run out."""

    def __init__(self, sessions: Sessions, row: CodeImport, chunk_bytes: int) -> None:
        self.sessions = sessions
        self.import_id = row.id
        self.seq, skip = divmod(row.bytes_read, chunk_bytes)
        self.skip = skip
        self.splitter = Splitter(first_line=row.lines_read + 1, start=row.bytes_read)
        self.lines: list[Line] = []
        self.ended = False

    async def take(self, count: int) -> list[Line]:
        while len(self.lines) < count and not self.ended:
            async with self.sessions() as session:
                data = await session.scalar(
                    select(CodeImportChunk.data).where(
                        CodeImportChunk.import_id == self.import_id,
                        CodeImportChunk.seq == self.seq,
                    )
                )
            if data is None:
                self.lines.extend(self.splitter.end())
                self.ended = True
                break
            self.seq += 1
            self.lines.extend(self.splitter.feed(data[self.skip :]))
            self.skip = 0
        taken_now, self.lines = self.lines[:count], self.lines[count:]
        return taken_now

    @property
    def exhausted(self) -> bool:
        return self.ended and not self.lines


@dataclass(frozen=True)
class _Sorted:
    """A round's lines, read and judged by their own rules, not yet loaded."""

    lines: list[Line]
    candidates: list[Candidate]
    rejected: list[Rejection]


def _sort(lines: list[Line], columns: Columns) -> _Sorted:
    # The header is line 1: a first round skips it.
    candidates, rejected = sort_lines(
        ((number, raw) for number, raw, _ in lines if number > 1), columns
    )
    return _Sorted(lines, candidates, rejected)


async def run_import(
    bind: Bind,
    import_id: int,
    *,
    clock: Clock,
    on_progress: Callable[[int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> CodeImport | None:
    """Check and load an unfinished import to its end, from what earlier runs
    committed; the import as it ended (done, or failed for a reason of its
    own); None when it had already ended. ``Interrupted`` when ``should_stop``
    said so between two rounds. The caller must be its only run (the job's lease).

    The next round's lines are judged in a thread while the database loads
    the current round's (Python's work and the database's overlap).
    """
    sessions = create_sessionmaker(bind)
    async with sessions() as session, session.begin():
        claimed = await session.scalar(
            update(CodeImport)
            .where(CodeImport.id == import_id, CodeImport.status.in_(imports.UNFINISHED))
            .values(status="running")
            .returning(CodeImport.id)
        )
        row = await session.get(CodeImport, import_id, populate_existing=True)
    if claimed is None or row is None:
        return None
    size = ROUND_POSTGRES if bind.dialect.name == "postgresql" else ROUND_SQLITE
    ahead: asyncio.Future[_Sorted] | None = None
    try:
        columns = await _read_header(sessions, import_id)
        reader = _Reader(sessions, row, imports.CHUNK_BYTES)
        ahead = asyncio.ensure_future(asyncio.to_thread(_sort, await reader.take(size), columns))
        while True:
            if should_stop is not None and should_stop():
                raise Interrupted(import_id)
            current = await ahead
            last = reader.exhausted
            if not last:
                ahead = asyncio.ensure_future(
                    asyncio.to_thread(_sort, await reader.take(size), columns)
                )
            ended = await _round(sessions, row, current, last, clock)
            if on_progress is not None:
                on_progress(ended.bytes_read)
            if ended.status == "done":
                return ended
            row = ended
    except ImportStopped as exc:
        return await mark_failed(sessions, import_id, str(exc), now=clock())
    finally:
        if ahead is not None and not ahead.done():
            ahead.cancel()


async def _round(
    sessions: Sessions, row: CodeImport, current: _Sorted, last: bool, clock: Clock
) -> CodeImport:
    """One committed round; the import after it."""
    now = clock()
    lines, candidates = current.lines, current.candidates
    async with sessions() as session, session.begin():
        if not await hold_campaign(session, row.campaign_id):
            raise ImportStopped("the campaign was archived while importing")
        if not candidates:
            loaded = Loaded(0, {}, set())
        elif dialect.is_postgres(session):
            loaded = await _load_copy(session, row, candidates, now)
        else:
            loaded = await _load_executemany(session, row, candidates, now)
        refused = judged(candidates, current.rejected, loaded)
        await _store_errors(session, row.id, refused)
        position = {"bytes_read": lines[-1][2], "lines_read": lines[-1][0]} if lines else {}
        done = {"status": "done", "finished_at": now} if last else {}
        changed = await session.scalar(
            update(CodeImport)
            .where(CodeImport.id == row.id, CodeImport.status == "running")
            .values(
                imported=CodeImport.imported + loaded.imported,
                rejected=CodeImport.rejected + len(refused),
                **position,
                **done,
            )
            .returning(CodeImport.id)
            .execution_options(synchronize_session=False)
        )
        if changed is None:  # marked failed meanwhile: this round rolls back
            raise ImportStopped("the import was stopped by another process")
        if last:
            await _forget(session, row.id)
        after = await session.get(CodeImport, row.id, populate_existing=True)
        assert after is not None  # noqa: S101 (this transaction updated it)
        session.expunge(after)
        return after


async def _forget(session: AsyncSession, import_id: int) -> None:
    """An ended import keeps its counts and refused lines, not its file nor its forms."""
    await session.execute(delete(CodeImportLine).where(CodeImportLine.import_id == import_id))
    await session.execute(delete(CodeImportChunk).where(CodeImportChunk.import_id == import_id))


async def mark_failed(
    sessions: Sessions, import_id: int, reason: str, *, now: datetime
) -> CodeImport | None:
    """Fail an unfinished import with ``reason``; the import as it is now. The
    codes its committed rounds loaded stay, with its refused lines."""
    async with sessions() as session, session.begin():
        await session.execute(
            update(CodeImport)
            .where(CodeImport.id == import_id, CodeImport.status.in_(imports.UNFINISHED))
            .values(status="failed", error=reason, finished_at=now)
            .execution_options(synchronize_session=False)
        )
        await _forget(session, import_id)
        row = await session.get(CodeImport, import_id, populate_existing=True)
        if row is not None:
            session.expunge(row)
        return row
