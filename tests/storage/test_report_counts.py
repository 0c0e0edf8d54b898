"""Validation counts of several workers, flushed concurrently into a committed
database while roll-ups run over the same hours: every count arrives once.

Each "worker" is a ``ValidationCounter`` with its own engine (its own
connections, as separate processes have), flushing in turns with the
others; on PostgreSQL the upserts of different workers meet on the same rows
at the same time, on SQLite they queue (``BEGIN IMMEDIATE``).
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from promo.db.engine import create_engine, create_sessionmaker
from promo.reports.counting import Flusher, ValidationCounter
from promo.reports.models import ReportDay, ReportHour, ReportMonth, ReportWeek
from promo.reports.rollup import roll_up
from promo.settings import Settings
from tests.support.databases import committed_database

WORKERS = 4
ROUNDS = 6
START = datetime(2026, 7, 1, 22, tzinfo=UTC)
NOW = datetime(2026, 8, 1, tzinfo=UTC)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def committed(request: pytest.FixtureRequest, sqlite_dir: Path) -> Iterator[Settings]:
    with committed_database(request, sqlite_dir, "promo_report_counts") as settings:
        yield settings


async def totals(settings: Settings) -> dict[str, tuple[int, int]]:
    engine = create_engine(settings)
    try:
        async with create_sessionmaker(engine)() as session:
            found = {}
            for name, model in (
                ("hours", ReportHour),
                ("days", ReportDay),
                ("weeks", ReportWeek),
                ("months", ReportMonth),
            ):
                table = model.__table__
                row = (
                    await session.execute(
                        select(
                            func.coalesce(func.sum(table.c.validations_tried), 0),
                            func.coalesce(func.sum(table.c.validations_valid), 0),
                        )
                    )
                ).one()
                found[name] = (int(row[0]), int(row[1]))
            return found
    finally:
        await engine.dispose()


async def test_concurrent_flushes_of_several_workers_add_up_exactly(committed: Settings) -> None:
    rng = random.Random(16)
    expected: Counter[str] = Counter()
    engines = [create_engine(committed) for _ in range(WORKERS + 1)]
    try:

        async def worker(index: int) -> None:
            counter, sessionmaker = ValidationCounter(), create_sessionmaker(engines[index])
            for _ in range(ROUNDS):
                for _ in range(200):
                    # Few codes and hours across a UTC midnight: the workers share rows.
                    now = START + timedelta(minutes=rng.randrange(0, 180))
                    valid = rng.random() < 0.6
                    counter.count(
                        code_id=rng.randrange(1, 6),
                        campaign_id=1,
                        affiliate_id=None,
                        currency="EUR",
                        valid=valid,
                        now=now,
                    )
                    expected["tried"] += 1
                    expected["valid"] += valid
                await counter.flush(sessionmaker)
                await asyncio.sleep(0)

        async def rolling_up() -> None:
            sessionmaker = create_sessionmaker(engines[WORKERS])
            for _ in range(ROUNDS):
                async with sessionmaker() as session, session.begin():
                    await roll_up(session, start=START, end=START + timedelta(hours=3), now=NOW)
                await asyncio.sleep(0)

        # Connected one at a time first: on SQLite, PRAGMA journal_mode=WAL on a new
        # connection can fail "database is locked" while another writes.
        for engine in engines:
            async with engine.connect():
                pass
        async with asyncio.TaskGroup() as group:  # one failing cancels the others
            for index in range(WORKERS):
                group.create_task(worker(index))
            group.create_task(rolling_up())
    finally:
        for engine in engines:
            await engine.dispose()
    wanted = (expected["tried"], expected["valid"])
    assert await totals(committed) == dict.fromkeys(("hours", "days", "weeks", "months"), wanted)


async def test_the_flusher_flushes_periodically_and_once_more_when_stopped(
    committed: Settings,
) -> None:
    before = await totals(committed)
    engine = create_engine(committed)
    counter = ValidationCounter()
    flusher = Flusher(counter, create_sessionmaker(engine), seconds=0.05)

    def validation() -> None:
        counter.count(
            code_id=99, campaign_id=1, affiliate_id=None, currency="EUR", valid=True, now=NOW
        )

    try:
        await flusher.start()
        validation()
        for _ in range(100):
            await asyncio.sleep(0.05)
            if counter.pending() == 0:
                break
        assert counter.pending() == 0, "flushed without being asked"
        validation()
        validation()
        await flusher.stop()
        assert counter.pending() == 0, "the last counts are flushed at shutdown"
    finally:
        await engine.dispose()
    after = await totals(committed)
    assert after["hours"][0] - before["hours"][0] == 3
    assert after["days"][1] - before["days"][1] == 3
    assert after["months"][1] - before["months"][1] == 3
