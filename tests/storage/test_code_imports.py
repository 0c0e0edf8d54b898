"""Imports run by the job on a committed database: own connections, real commits,
a run stopped, a worker killed in the middle of a round, and the import resumed.

One fresh database per backend for this module; each test makes its own campaign.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from promo import job_kinds
from promo.clock import utc_now
from promo.codes import imports, imports_jobs, imports_run
from promo.codes.import_models import CodeImport, CodeImportChunk, CodeImportLine
from promo.codes.models import Code
from promo.db.engine import create_engine, create_sessionmaker
from promo.settings import Settings
from tests.support.databases import committed_database
from tests.support.factories import campaign_row


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def committed(request: pytest.FixtureRequest, sqlite_dir: Path) -> Iterator[Settings]:
    with committed_database(request, sqlite_dir, "promo_imports") as settings:
        yield settings


@pytest.fixture
async def engine(committed: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(committed)
    yield engine
    await engine.dispose()


@pytest.fixture
def small_rounds(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rounds of 3 lines and stored chunks of 16 bytes: many rounds, lines cut
    across chunks, duplicates of lines of earlier rounds."""
    monkeypatch.setattr(imports_run, "ROUND_SQLITE", 3)
    monkeypatch.setattr(imports_run, "ROUND_POSTGRES", 3)
    monkeypatch.setattr(imports, "CHUNK_BYTES", 16)


async def stored(engine: AsyncEngine, text: str, *, queued: bool = False) -> int:
    async def body() -> AsyncIterator[bytes]:
        yield text.encode()

    async with create_sessionmaker(engine)() as session, session.begin():
        campaign = campaign_row(name="Imported", now=utc_now())
        session.add(campaign)
        await session.flush()
        row = await imports.create_import(
            session, campaign, body(), max_bytes=1 << 20, filename=None, now=utc_now()
        )
        if queued:
            await imports_jobs.schedule(session, row.id, now=utc_now())
        return row.id


async def counted(engine: AsyncEngine, table: Any, import_id: int) -> int:
    async with create_sessionmaker(engine)() as session:
        return int(
            await session.scalar(
                select(func.count()).select_from(table).where(table.import_id == import_id)
            )
            or 0
        )


@pytest.mark.usefixtures("small_rounds")
async def test_a_resumed_import_loads_each_line_once_and_names_its_own_lines_as_duplicates(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    prefix = "RESUME"
    text = (
        "max_redemptions,code\n"
        + "".join(f",{prefix}N{n:02d}\n" for n in range(10))
        + f"3,{prefix}N01\n,{prefix}-N07\n"
    )
    import_id = await stored(engine, text)
    asked = 0

    def stop_after_two() -> bool:
        nonlocal asked
        asked += 1
        return asked > 2

    with pytest.raises(imports_run.Interrupted):
        await imports_run.run_import(engine, import_id, clock=utc_now, should_stop=stop_after_two)

    async def killed(*args: Any) -> None:
        raise ConnectionResetError("the worker was killed")

    real = imports_run._store_errors
    monkeypatch.setattr(imports_run, "_store_errors", killed)
    with pytest.raises(ConnectionResetError):
        await imports_run.run_import(engine, import_id, clock=utc_now)
    monkeypatch.setattr(imports_run, "_store_errors", real)

    ended = await imports_run.run_import(engine, import_id, clock=utc_now)
    assert ended is not None
    assert (ended.status, ended.lines_read, ended.imported, ended.rejected) == ("done", 13, 10, 2)
    async with create_sessionmaker(engine)() as session:
        errors = await imports.list_errors(session, import_id, after_line=None, limit=10)
        loaded = await session.scalar(
            select(func.count())
            .select_from(Code)
            .where(Code.campaign_id == ended.campaign_id, Code.kind == "vanity")
        )
    assert [(e.line, e.reason, e.duplicate_of) for e in errors] == [
        (12, "duplicate_in_file", 3),
        (13, "duplicate_in_file", 9),
    ]
    assert loaded == 10
    assert await counted(engine, CodeImportChunk, import_id) == 0
    assert await counted(engine, CodeImportLine, import_id) == 0


async def test_the_worker_runs_a_queued_import_to_its_end(
    engine: AsyncEngine, committed: Settings
) -> None:
    import_id = await stored(
        engine, "code,max_redemptions\nWORKER-ONE,2\nWORKER-TWO,x\n", queued=True
    )
    ran = await job_kinds.worker(committed, engine, utc_now).run_due()
    assert ran >= 1
    async with create_sessionmaker(engine)() as session:
        row = await session.get(CodeImport, import_id)
        assert row is not None
        assert (row.status, row.imported, row.rejected) == ("done", 1, 1)
