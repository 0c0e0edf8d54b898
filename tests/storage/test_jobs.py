"""Durable jobs (promo.jobs) on committed databases: leases, retries, failures
and concurrent workers, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from promo.app import create_app
from promo.auth.roles import Role
from promo.clock import utc_now
from promo.db.engine import create_engine, create_sessionmaker
from promo.ids import Kind, encode
from promo.jobs import queue
from promo.jobs.models import Job
from promo.jobs.worker import Fatal, JobContext, Stopped, Worker
from promo.settings import Settings
from tests.support.clock import FrozenClock
from tests.support.databases import committed_database
from tests.support.factories import bearer, make_key

LEASE = timedelta(seconds=30)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def committed(request: pytest.FixtureRequest, sqlite_dir: Path) -> Iterator[Settings]:
    with committed_database(request, sqlite_dir, "promo_jobs") as settings:
        yield settings


@pytest.fixture
async def engine(committed: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(committed)
    yield engine
    await engine.dispose()


async def queue_job(
    engine: AsyncEngine,
    kind: str,
    *,
    now: datetime | None = None,
    payload: dict[str, Any] | None = None,
    **fields: Any,
) -> int | None:
    async with create_sessionmaker(engine)() as session, session.begin():
        return await queue.enqueue(session, kind, payload, now=now or utc_now(), **fields)


async def job(engine: AsyncEngine, job_id: int) -> Job:
    async with create_sessionmaker(engine)() as session:
        found = await session.get(Job, job_id)
        assert found is not None
        return found


async def test_a_unique_key_queues_one_job_until_it_ends(engine: AsyncEngine) -> None:
    first = await queue_job(engine, "settle", unique_key="settle:2026-11")
    assert first is not None
    assert await queue_job(engine, "settle", unique_key="settle:2026-11") is None
    async with create_sessionmaker(engine)() as session, session.begin():
        leased = await queue.lease(session, "w1", now=utc_now(), lease_for=LEASE, job_id=first)
        assert leased is not None
        assert await queue.finish(session, leased, now=utc_now())
    # Done: the key is free for the next period's run.
    assert await queue_job(engine, "settle", unique_key="settle:2026-11") is not None


async def test_a_job_is_not_due_before_its_time_and_retries_back_off(engine: AsyncEngine) -> None:
    now = utc_now()
    job_id = await queue_job(engine, "later", now=now, run_at=now + timedelta(minutes=5))
    assert job_id is not None
    sessions = create_sessionmaker(engine)
    async with sessions() as session, session.begin():
        early = await queue.lease(session, "w", now=now, lease_for=LEASE, job_id=job_id)
    assert early is None
    at = now + timedelta(minutes=5)
    for attempt in (1, 2, 3):
        async with sessions() as session, session.begin():
            leased = await queue.lease(session, "w", now=at, lease_for=LEASE, job_id=job_id)
            assert leased is not None
            assert leased.attempt == attempt
            assert await queue.fail(session, leased, "boom", now=at) == "queued"
        row = await job(engine, job_id)
        assert row.run_at == at + queue.backoff(attempt)
        assert row.last_error == "boom"
        at = row.run_at
    assert [queue.backoff(n).total_seconds() for n in (1, 2, 3, 20)] == [10, 20, 40, 3600]


async def test_a_worker_retries_a_failing_job_then_fails_it_for_all_to_see(
    committed: Settings, engine: AsyncEngine
) -> None:
    clock = FrozenClock()
    calls: list[int] = []

    async def flaky(ctx: JobContext) -> None:
        calls.append(ctx.job.attempt)
        raise RuntimeError(f"attempt {ctx.job.attempt} failed")

    job_id = await queue_job(engine, "flaky", now=clock(), max_attempts=3)
    assert job_id is not None
    worker = Worker(bind=engine, clock=clock, handlers={"flaky": flaky})
    for _ in range(3):
        await worker.run_due()
        clock.advance(seconds=3600)
    assert calls == [1, 2, 3]
    failed = await job(engine, job_id)
    assert (failed.status, failed.attempts) == ("failed", 3)
    assert failed.last_error == "RuntimeError: attempt 3 failed"
    assert await worker.run_due() == 0  # never again by itself

    # Visible to an operator, who can retry it.
    app = create_app(committed, engine=engine)
    async with create_sessionmaker(engine)() as session, session.begin():
        admin = bearer(await make_key(session, Role.ADMIN, now=utc_now()))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://promo.test") as client:
        listed = await client.get(
            "/v1/jobs", params={"status": "failed", "kind": "flaky"}, headers=admin
        )
        assert listed.status_code == 200, listed.text
        shown = [j for j in listed.json()["items"] if j["id"] == encode(Kind.JOB, job_id)]
        assert shown[0]["last_error"] == "RuntimeError: attempt 3 failed"
        assert (shown[0]["attempts"], shown[0]["max_attempts"]) == (3, 3)
        retried = await client.post(f"/v1/jobs/{shown[0]['id']}/retry", headers=admin)
        assert retried.status_code == 200, retried.text
        assert (retried.json()["status"], retried.json()["attempts"]) == ("queued", 0)
        again = await client.post(f"/v1/jobs/{shown[0]['id']}/retry", headers=admin)
        assert again.status_code == 409
        assert again.json()["code"] == "job_not_failed"
        missing = await client.get("/v1/jobs/job_000000000000", headers=admin)
        assert missing.status_code == 404
    await app.state.jobs.shutdown()


async def test_a_fatal_error_fails_the_job_at_once(engine: AsyncEngine) -> None:
    async def hopeless(ctx: JobContext) -> None:
        raise Fatal("the campaign is gone")

    job_id = await queue_job(engine, "hopeless", max_attempts=5)
    assert job_id is not None
    await Worker(bind=engine, clock=utc_now, handlers={"hopeless": hopeless}).run_due()
    row = await job(engine, job_id)
    assert (row.status, row.attempts) == ("failed", 1)


async def test_concurrent_workers_take_each_job_once(engine: AsyncEngine) -> None:
    """Four workers at once on 40 jobs: each job runs once, and all of them run."""
    ran: list[int] = []

    async def record(ctx: JobContext) -> None:
        await asyncio.sleep(0.01)
        ran.append(int(ctx.job.payload["n"]))

    for n in range(40):
        await queue_job(engine, "record", payload={"n": n})
    workers = [
        Worker(bind=engine, clock=utc_now, handlers={"record": record}, name=f"w{i}")
        for i in range(4)
    ]
    counts = await asyncio.gather(*(w.run_due() for w in workers))
    assert sorted(ran) == list(range(40))
    assert sum(counts) == 40
    async with create_sessionmaker(engine)() as session:
        statuses = set(await session.scalars(select(Job.status).where(Job.kind == "record")))
    assert statuses == {"done"}


async def test_a_stopping_worker_gives_its_job_back_uncounted(engine: AsyncEngine) -> None:
    started = asyncio.Event()

    async def long(ctx: JobContext) -> None:
        started.set()
        # As a real handler: work in steps, looking at should_stop between them.
        while not ctx.should_stop():  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        raise Stopped

    job_id = await queue_job(engine, "long")
    assert job_id is not None
    worker = Worker(bind=engine, clock=utc_now, handlers={"long": long}, poll_seconds=0.05)
    worker.start()
    await asyncio.wait_for(started.wait(), 10)
    await worker.stop()
    row = await job(engine, job_id)
    assert (row.status, row.attempts, row.lease_owner) == ("queued", 0, None)
