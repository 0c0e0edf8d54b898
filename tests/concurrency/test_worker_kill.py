"""`promo worker` processes on PostgreSQL: one killed with SIGKILL in the middle
of a code batch loses nothing and duplicates nothing; another takes the job
over once its lease has run out and finishes the batch."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from promo.campaigns.models import Campaign
from promo.clock import utc_now
from promo.codes import batch_jobs
from promo.codes.batches import create_batch
from promo.codes.models import Code, CodeBatch
from promo.db.engine import create_engine, create_sessionmaker
from promo.jobs.models import Job
from promo.settings import Settings
from tests.conftest import TEST_SECRET
from tests.support.databases import committed_database
from tests.support.factories import campaign_row
from tests.support.server import start_worker as start_worker_process

COUNT = 600_000
State = tuple[str, int, int]  # (status, generated, codes stored)
LEASE_SECONDS = "3"


@pytest.fixture(scope="module", params=["postgresql"])
def committed(request: pytest.FixtureRequest, sqlite_dir: Path) -> Iterator[Settings]:
    with committed_database(request, sqlite_dir, "promo_worker_kill") as settings:
        yield settings


@pytest.fixture
async def engine(committed: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(committed)
    yield engine
    await engine.dispose()


def start_worker(settings: Settings, log: Path) -> subprocess.Popen[bytes]:
    return start_worker_process(
        settings.database_url,
        secret=TEST_SECRET,
        log=log,
        extra_env={"PROMO_JOB_LEASE_SECONDS": LEASE_SECONDS},
    )


async def batch_state(engine: AsyncEngine, batch_id: int) -> State:
    async with create_sessionmaker(engine)() as session:
        batch = await session.get(CodeBatch, batch_id, populate_existing=True)
        assert batch is not None
        stored = await session.scalar(
            select(func.count()).select_from(Code).where(Code.batch_id == batch_id)
        )
        return batch.status, batch.generated, int(stored or 0)


def tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:]


async def until(
    engine: AsyncEngine, batch_id: int, done: Callable[[State], bool], log: Path
) -> State:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        state = await batch_state(engine, batch_id)
        if done(state):
            return state
        await asyncio.sleep(0.05)
    raise AssertionError(f"batch still {state} after 120 s:\n{tail(log)}")


async def test_a_worker_killed_mid_batch_is_taken_over_and_the_batch_is_exact(
    committed: Settings, engine: AsyncEngine
) -> None:
    async with create_sessionmaker(engine)() as session, session.begin():
        campaign = campaign_row(name="Kill", now=utc_now())
        session.add(campaign)
        await session.flush()
        batch = await create_batch(
            session,
            await session.get(Campaign, campaign.id),  # type: ignore[arg-type]
            pattern="KL-##########",
            charset="safe",
            count=COUNT,
            max_redemptions_per_code=1,
            affiliate_id=None,
            max_guess_ratio=1e-4,
            now=utc_now(),
        )
        await batch_jobs.schedule(session, batch.id, now=utc_now())
        batch_id = batch.id
    log = Path(tempfile.mkdtemp(prefix="promo-worker-")) / "workers.log"
    first = start_worker(committed, log)
    try:
        halfway = await until(engine, batch_id, lambda s: s[1] >= 100_000, log)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
    assert halfway[0] == "running"
    assert halfway[1] < COUNT, "the batch ended before the worker could be killed"
    killed_at = await batch_state(engine, batch_id)
    # What the dead worker committed is there, and nothing more.
    assert killed_at[1] == killed_at[2]

    second = start_worker(committed, log)
    try:
        ended = await until(engine, batch_id, lambda s: s[0] in ("done", "failed"), log)
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(30)
    assert ended == ("done", COUNT, COUNT)
    async with create_sessionmaker(engine)() as session:
        distinct = await session.scalar(
            select(func.count(func.distinct(Code.canonical))).where(Code.batch_id == batch_id)
        )
        job = (await session.scalars(select(Job).where(Job.kind == batch_jobs.KIND))).one()
    assert distinct == COUNT
    # Taken over once: the killed attempt and the one that finished.
    assert (job.status, job.attempts) == ("done", 2)
    assert second.returncode == 0, tail(log)
