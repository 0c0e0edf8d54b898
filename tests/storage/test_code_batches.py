"""Background batches on a committed database: real tasks, own connections, real commits.

One fresh database per backend for this module (no outer transaction: the
point is what is committed, and when). Each test makes its own campaign and
pattern, so tests do not see each other's batches in their assertions.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
from litestar import Litestar
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from promo.app import create_app
from promo.auth.roles import Role
from promo.campaigns.models import Campaign
from promo.clock import utc_now
from promo.codes import batch_jobs, generation, rounds
from promo.codes.batch_customers import create_customer_batch, read_list
from promo.codes.batch_schemas import CustomerCodesCreate
from promo.codes.batches import create_batch
from promo.codes.models import Code, CodeBatch, CodeBatchCustomer
from promo.codes.patterns import matcher, parse_charset, parse_pattern
from promo.db.engine import create_engine, create_sessionmaker
from promo.ids import Kind, decode, encode
from promo.jobs import queue
from promo.jobs.models import Job
from promo.settings import Settings
from tests.support.api import cart, create_campaign, item
from tests.support.databases import committed_database
from tests.support.factories import bearer, campaign_row, make_key


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def committed(request: pytest.FixtureRequest, sqlite_dir: Path) -> Iterator[Settings]:
    """A fresh, migrated database that this module's tests commit into."""
    with committed_database(request, sqlite_dir, "promo_batches") as settings:
        yield settings


@pytest.fixture
async def engine(committed: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(committed)
    yield engine
    await engine.dispose()


@dataclass
class Service:
    app: Litestar
    client: httpx.AsyncClient
    marketer: dict[str, str]
    checkout: dict[str, str]

    async def settled(self, batch_id: str) -> dict[str, Any]:
        """The batch once its job (run by the app's in-process worker) has ended it."""
        for _ in range(600):
            batch = await get_batch(self, batch_id)
            if batch["status"] in ("done", "failed"):
                return batch
            await asyncio.sleep(0.1)
        raise AssertionError(f"batch {batch_id} still {batch['status']} after 60 s")


async def committed_key(engine: AsyncEngine, role: Role) -> dict[str, str]:
    async with create_sessionmaker(engine)() as session, session.begin():
        return bearer(await make_key(session, role, now=utc_now()))


@asynccontextmanager
async def running(settings: Settings, engine: AsyncEngine) -> AsyncIterator[Service]:
    """The app with its lifespan and its in-process worker (on PostgreSQL too: the
    work of `promo worker`, here in the app's process).

    Not a fixture: the lifespan must start and end in the same task.
    """
    app = create_app(msgspec.structs.replace(settings, jobs_in_process=True), engine=engine)
    marketer = await committed_key(engine, Role.MARKETER)
    checkout = await committed_key(engine, Role.CHECKOUT)
    async with app.lifespan():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://promo.test") as client:
            yield Service(app, client, marketer, checkout)


async def post_batch(service: Service, campaign_id: str, **body: Any) -> dict[str, Any]:
    response = await service.client.post(
        f"/v1/campaigns/{campaign_id}/code-batches",
        json={"charset": "safe", **body},
        headers=service.marketer,
    )
    assert response.status_code == 202, response.text
    batch: dict[str, Any] = response.json()
    return batch


async def get_batch(service: Service, batch_id: str) -> dict[str, Any]:
    response = await service.client.get(f"/v1/code-batches/{batch_id}", headers=service.marketer)
    assert response.status_code == 200, response.text
    batch: dict[str, Any] = response.json()
    return batch


async def stored_codes(engine: AsyncEngine, batch_id: str) -> int:
    async with engine.connect() as connection:
        count = await connection.scalar(
            select(func.count())
            .select_from(Code)
            .where(Code.batch_id == decode(Kind.CODE_BATCH, batch_id))
        )
    return int(count or 0)


async def test_background_batch_reaches_done_in_committed_chunks(
    committed: Settings, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rounds, "CHUNK_POSTGRES", 7_000)
    monkeypatch.setattr(rounds, "CHUNK_SQLITE", 7_000)
    async with running(committed, engine) as service:
        await background_batch_reaches_done(service, engine)


async def background_batch_reaches_done(service: Service, engine: AsyncEngine) -> None:
    campaign = await create_campaign(service.client, service.marketer)

    batch = await post_batch(service, campaign["id"], count=20_000, pattern="BG-#####-#####")
    assert batch["status"] == "pending"
    done = await service.settled(batch["id"])
    assert done["status"] == "done", done
    assert (done["generated"], done["percent"], done["error"]) == (20_000, 100.0, None)
    assert done["finished_at"] is not None
    assert await stored_codes(engine, batch["id"]) == 20_000

    csv = await service.client.get(
        f"/v1/code-batches/{batch['id']}/codes.csv", headers=service.marketer
    )
    assert csv.status_code == 200
    header, *lines = csv.text.splitlines()
    assert header == "code"
    assert len(lines) == len(set(lines)) == 20_000
    expected = matcher(parse_pattern("BG-#####-#####", parse_charset("safe")))
    assert all(expected.fullmatch(line.replace("-", "")) for line in lines)


async def test_progress_is_committed_round_by_round(
    committed: Settings, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the CLI's progress bar shows: each round's committed count."""
    monkeypatch.setattr(rounds, "CHUNK_POSTGRES", 4_000)
    monkeypatch.setattr(rounds, "CHUNK_SQLITE", 4_000)
    sessions = create_sessionmaker(engine)
    async with sessions() as session, session.begin():
        campaign = await new_campaign(session)
        batch = await create_batch(
            session,
            campaign,
            pattern="PR-##########",
            charset="safe",
            count=10_000,
            max_redemptions_per_code=1,
            affiliate_id=None,
            max_guess_ratio=committed.max_guess_ratio,
            now=utc_now(),
        )
    seen: list[int] = []
    ended = await generation.run_batch(engine, batch.id, clock=utc_now, on_progress=seen.append)
    assert ended is not None
    assert ended.status == "done"
    # Two concurrent rounds on PostgreSQL, one at a time on SQLite.
    assert seen == ([8_000, 10_000] if committed.is_postgres else [4_000, 8_000, 10_000])


async def new_campaign(session: AsyncSession, status: str = "active") -> Campaign:
    campaign = campaign_row(name="Storage", now=utc_now(), status=status)
    session.add(campaign)
    await session.flush()
    return campaign


async def test_batch_of_100k_on_postgres_then_a_random_code_validates(
    committed: Settings, engine: AsyncEngine
) -> None:
    if not committed.is_postgres:
        pytest.skip("the COPY fast path is PostgreSQL's")
    async with running(committed, engine) as service:
        await random_code_of_100k_validates(service, engine)


async def random_code_of_100k_validates(service: Service, engine: AsyncEngine) -> None:
    campaign = await create_campaign(
        service.client, service.marketer, starts_at="2020-01-01T00:00:00Z", ends_at=None
    )
    batch = await post_batch(service, campaign["id"], count=100_000, pattern="HK-####-####-##")
    assert (await service.settled(batch["id"]))["status"] == "done"
    assert await stored_codes(engine, batch["id"]) == 100_000

    async with engine.connect() as connection:
        codes = list(
            await connection.scalars(
                select(Code.code)
                .where(Code.batch_id == decode(Kind.CODE_BATCH, batch["id"]))
                .order_by(Code.id)
                .offset(random.randrange(100_000 - 3))
                .limit(3)
            )
        )
    for spelling in (codes[0], codes[1].lower(), codes[2].replace("-", " ")):
        response = await service.client.post(
            "/v1/validations",
            json={"code": spelling, "cart": cart(item("TSHIRT-1", 1, 2500))},
            headers=service.checkout,
        )
        assert response.status_code == 200, response.text
        assert response.json()["valid"] is True, response.json()


async def queued_batch(engine: AsyncEngine, pattern: str, count: int = 20_000) -> int:
    """A batch and its job, committed together, as the API creates them."""
    async with create_sessionmaker(engine)() as session, session.begin():
        campaign = await new_campaign(session)
        batch = await create_batch(
            session,
            campaign,
            pattern=pattern,
            charset="safe",
            count=count,
            max_redemptions_per_code=1,
            affiliate_id=None,
            max_guess_ratio=1e-4,
            now=utc_now(),
        )
        await batch_jobs.schedule(session, batch.id, now=utc_now())
        return batch.id


async def batch_job(engine: AsyncEngine, batch_id: int) -> Job:
    async with create_sessionmaker(engine)() as session:
        return (
            await session.scalars(
                select(Job).where(Job.payload["batch_id"].as_integer() == batch_id)
            )
        ).one()


async def test_a_batch_interrupted_midway_resumes_from_what_it_committed(
    committed: Settings, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run stops after its first rounds (a shutdown); the next app's worker
    finishes the batch: exactly the codes asked for, none twice."""
    monkeypatch.setattr(rounds, "CHUNK_POSTGRES", 3_000)
    monkeypatch.setattr(rounds, "CHUNK_SQLITE", 3_000)
    batch_id = await queued_batch(engine, "RS-##########")
    rounds_seen: list[int] = []

    def stop_after_first_round() -> bool:
        return bool(rounds_seen)

    with pytest.raises(generation.Interrupted):
        await generation.run_batch(
            engine,
            batch_id,
            clock=utc_now,
            on_progress=rounds_seen.append,
            should_stop=stop_after_first_round,
        )
    public = encode(Kind.CODE_BATCH, batch_id)
    halfway = await stored_codes(engine, public)
    assert 0 < halfway < 20_000
    async with running(committed, engine) as service:
        done = await service.settled(public)
    assert (done["status"], done["generated"], done["error"]) == ("done", 20_000, None)
    assert await stored_codes(engine, public) == 20_000
    job = await batch_job(engine, batch_id)
    assert (job.status, job.attempts) == ("done", 1)


async def test_a_batch_held_by_a_live_worker_is_left_to_it_and_taken_over_when_it_dies(
    committed: Settings, engine: AsyncEngine
) -> None:
    batch_id = await queued_batch(engine, "LW-##########", count=2_000)
    job_id = (await batch_job(engine, batch_id)).id
    sessions = create_sessionmaker(engine)
    lease = timedelta(seconds=30)
    now = utc_now()
    async with sessions() as session, session.begin():
        held = await queue.lease(session, "other-host:1", now=now, lease_for=lease, job_id=job_id)
    assert held is not None
    async with sessions() as session, session.begin():
        assert await queue.lease(session, "me:2", now=now, lease_for=lease, job_id=job_id) is None
    # The other host stops renewing (killed): once its lease ran out, the job is due.
    later = now + lease + timedelta(seconds=1)
    async with sessions() as session, session.begin():
        taken = await queue.lease(session, "me:2", now=later, lease_for=lease, job_id=job_id)
    assert taken is not None
    assert taken.attempt == 2
    # And the dead worker, were it to wake up, can no longer finish nor renew it.
    async with sessions() as session, session.begin():
        assert not await queue.finish(session, held, now=later)
        assert not await queue.renew(session, held, now=later, lease_for=lease)


async def test_shutdown_gives_a_running_batch_back_and_the_next_start_finishes_it(
    committed: Settings, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rounds, "CHUNK_POSTGRES", 1_000)
    monkeypatch.setattr(rounds, "CHUNK_SQLITE", 1_000)
    async with running(committed, engine) as service:
        async with create_sessionmaker(engine)() as session, session.begin():
            campaign_id = encode(Kind.CAMPAIGN, (await new_campaign(session)).id)
        response = await service.client.post(
            f"/v1/campaigns/{campaign_id}/code-batches",
            json={"count": 50_000, "pattern": "SD-##########"},
            headers=service.marketer,
        )
        assert response.status_code == 202
        batch_id = response.json()["id"]
        await asyncio.sleep(0.3)  # a round or two, not fifty
    # The app has shut down: its run stopped between two rounds and was given back.
    async with engine.connect() as connection:
        batch = (
            await connection.execute(
                select(CodeBatch).where(CodeBatch.id == decode(Kind.CODE_BATCH, batch_id))
            )
        ).one()
    assert batch.status in ("pending", "running")
    assert batch.generated < 50_000
    assert await stored_codes(engine, batch_id) == batch.generated
    job = await batch_job(engine, decode(Kind.CODE_BATCH, batch_id) or 0)
    assert (job.status, job.attempts, job.lease_owner) == ("queued", 0, None)
    async with running(committed, engine) as service:
        done = await service.settled(batch_id)
    assert (done["status"], done["generated"]) == ("done", 50_000)
    assert await stored_codes(engine, batch_id) == 50_000


async def test_archiving_the_campaign_stops_its_batch(engine: AsyncEngine) -> None:
    sessions = create_sessionmaker(engine)
    async with sessions() as session, session.begin():
        campaign = await new_campaign(session)
        batch = await create_batch(
            session,
            campaign,
            pattern="AR-##########",
            charset="safe",
            count=5_000,
            max_redemptions_per_code=1,
            affiliate_id=None,
            max_guess_ratio=1e-4,
            now=utc_now(),
        )
        await session.execute(
            update(Campaign).where(Campaign.id == campaign.id).values(status="archived")
        )
    ended = await generation.run_batch(engine, batch.id, clock=utc_now)
    assert ended is not None
    assert ended.status == "failed"
    assert ended.error == "the campaign was archived while generating"
    assert ended.generated == 0


async def test_a_batch_runs_once(committed: Settings, engine: AsyncEngine) -> None:
    sessions = create_sessionmaker(engine)
    async with sessions() as session, session.begin():
        campaign = await new_campaign(session)
        batch = await create_batch(
            session,
            campaign,
            pattern="ON-##########",
            charset="safe",
            count=2_000,
            max_redemptions_per_code=1,
            affiliate_id=None,
            max_guess_ratio=committed.max_guess_ratio,
            now=utc_now(),
        )
    first = await generation.run_batch(engine, batch.id, clock=utc_now)
    assert first is not None
    assert first.status == "done"
    assert await generation.run_batch(engine, batch.id, clock=utc_now) is None
    assert await stored_codes(engine, encode(Kind.CODE_BATCH, batch.id)) == 2_000


async def test_a_customer_list_is_issued_round_by_round_one_round_at_a_time(
    committed: Settings, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Customers are taken in upload order, so a list's rounds never run two at once
    (PostgreSQL too); each committed round binds its codes to its customers."""
    monkeypatch.setattr(rounds, "CHUNK_POSTGRES", 1_000)
    monkeypatch.setattr(rounds, "CHUNK_SQLITE", 1_000)
    keyring = committed.keyring
    listed = read_list(keyring, "".join(f"storage-list-{n}\n" for n in range(2_500)).encode())
    sessions = create_sessionmaker(engine)
    async with sessions() as session, session.begin():
        campaign = await new_campaign(session)
        batch = await create_customer_batch(
            session,
            campaign,
            listed,
            CustomerCodesCreate(pattern="CL-##########", valid_for=timedelta(days=3)),
            keyring=keyring,
            max_guess_ratio=committed.max_guess_ratio,
            keep_list_days=7,
            now=utc_now(),
        )
    seen: list[int] = []
    ended = await generation.run_batch(engine, batch.id, clock=utc_now, on_progress=seen.append)
    assert ended is not None
    assert ended.status == "done"
    assert seen == [1_000, 2_000, 2_500]
    async with engine.connect() as connection:
        bound = await connection.execute(
            select(CodeBatchCustomer.customer_ref, Code.customer_ref, Code.expires_at)
            .join(Code, Code.id == CodeBatchCustomer.code_id)
            .where(CodeBatchCustomer.batch_id == batch.id)
        )
        pairs = bound.all()
    assert len(pairs) == 2_500
    assert all(listed_ref == code_ref for listed_ref, code_ref, _ in pairs)
    assert {expires for _, _, expires in pairs} == {batch.expires_at}
