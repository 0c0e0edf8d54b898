"""What a running batch round holds on its campaign, on a committed PostgreSQL database.

A round is held open by the test (its codes inserted, its transaction not yet
committed) while checkout and archiving act on the same campaign: checkout
must not wait for it; archiving must still leave no live code behind.
SQLite serialises writers, so the question only exists on PostgreSQL.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from promo.campaigns.models import Campaign
from promo.clock import utc_now
from promo.codes import generation, rounds
from promo.codes.batches import create_batch
from promo.codes.models import Code, CodeBatch
from promo.codes.patterns import Pattern
from promo.db.engine import create_engine, create_sessionmaker
from promo.ids import Kind, decode
from promo.settings import Settings
from tests.storage.test_code_batches import running
from tests.support.api import cart, create_campaign, create_code, item, redeem
from tests.support.databases import committed_database

# Longer than any redemption takes on its own, far shorter than the held round.
CHECKOUT_WAIT_SECONDS = 3.0
HOLD_SECONDS = 30.0


@pytest.fixture(scope="module", params=["postgresql"])
def committed(request: pytest.FixtureRequest, sqlite_dir: Path) -> Iterator[Settings]:
    with committed_database(request, sqlite_dir, "promo_batch_locks") as settings:
        yield settings


@pytest.fixture
async def engine(committed: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(committed)
    yield engine
    await engine.dispose()


class HeldRound:
    """Holds the first round of a run open after its insert, until released."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.held = asyncio.Event()
        self.release = asyncio.Event()
        real = generation.insert_round

        async def insert_then_hold(
            session: AsyncSession, batch: CodeBatch, pattern: Pattern, need: int
        ) -> int:
            inserted = await real(session, batch, pattern, need)
            if not self.held.is_set():
                self.held.set()
                await asyncio.wait_for(self.release.wait(), HOLD_SECONDS)
            return inserted

        monkeypatch.setattr(generation, "insert_round", insert_then_hold)
        monkeypatch.setattr(rounds, "CHUNK_POSTGRES", 1_000)


async def pending_batch(engine: AsyncEngine, campaign_id: str, pattern: str, count: int) -> int:
    async with create_sessionmaker(engine)() as session, session.begin():
        campaign = await session.get_one(Campaign, decode(Kind.CAMPAIGN, campaign_id))
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
        return batch.id


async def live_codes(engine: AsyncEngine, campaign_id: str) -> int:
    async with engine.connect() as connection:
        count = await connection.scalar(
            select(func.count())
            .select_from(Code)
            .where(Code.campaign_id == decode(Kind.CAMPAIGN, campaign_id), Code.live)
        )
    return int(count or 0)


async def test_redemption_on_the_campaign_does_not_wait_for_a_batch_round(
    committed: Settings, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    hold = HeldRound(monkeypatch)
    async with running(committed, engine) as service:
        campaign = await create_campaign(
            service.client, service.marketer, starts_at="2020-01-01T00:00:00Z", ends_at=None
        )
        await create_code(service.client, service.marketer, campaign["id"], "SUMMER-HELD")
        batch_id = await pending_batch(engine, campaign["id"], "HR-##########", 2_000)
        run = asyncio.create_task(generation.run_batch(engine, batch_id, clock=utc_now))
        await asyncio.wait_for(hold.held.wait(), HOLD_SECONDS)
        try:
            response = await asyncio.wait_for(
                redeem(
                    service.client,
                    service.checkout,
                    code="SUMMER-HELD",
                    cart=cart(item("TSHIRT-1", 1, 2500)),
                    order_id="ord_during_batch",
                ),
                CHECKOUT_WAIT_SECONDS,
            )
            assert response.status_code == 201, response.text
            # Its rollback takes the campaign row as the redemption did: no wait either.
            rolled_back = await asyncio.wait_for(
                service.client.post(
                    f"/v1/redemptions/{response.json()['id']}/rollback",
                    json={},
                    headers={**service.checkout, "Idempotency-Key": "rollback-during-batch"},
                ),
                CHECKOUT_WAIT_SECONDS,
            )
        finally:
            hold.release.set()
            ended = await run
    assert rolled_back.status_code == 200, rolled_back.text
    assert ended is not None
    assert (ended.status, ended.generated) == ("done", 2_000)


async def test_archiving_during_a_batch_round_leaves_no_live_code(
    committed: Settings, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The guarantee the round's lock exists for: an archive in the middle of a
    round releases that round's codes too, and the batch stops."""
    hold = HeldRound(monkeypatch)
    async with running(committed, engine) as service:
        campaign = await create_campaign(
            service.client, service.marketer, starts_at="2020-01-01T00:00:00Z", ends_at=None
        )
        batch_id = await pending_batch(engine, campaign["id"], "HA-##########", 6_000)
        run = asyncio.create_task(generation.run_batch(engine, batch_id, clock=utc_now))
        await asyncio.wait_for(hold.held.wait(), HOLD_SECONDS)
        archive = asyncio.create_task(
            service.client.patch(
                f"/v1/campaigns/{campaign['id']}",
                json={"status": "archived"},
                headers=service.marketer,
            )
        )
        # Time for an archive that did not wait for the round to commit.
        await asyncio.sleep(0.5)
        hold.release.set()
        ended = await run
        archived = await archive
    assert archived.status_code == 200, archived.text
    assert ended is not None
    assert ended.status == "failed"
    assert ended.error == "the campaign was archived while generating"
    assert 0 < ended.generated < 6_000
    assert await live_codes(engine, campaign["id"]) == 0


async def test_a_batch_run_holds_no_advisory_lock(
    committed: Settings, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A transaction-pooling PgBouncer keeps a transaction's server connection,
    not a session's: a run must not rely on session state. Its job's lease (a
    row) says that the batch is alive; no advisory lock is taken."""
    hold = HeldRound(monkeypatch)
    async with running(committed, engine) as service:
        campaign = await create_campaign(service.client, service.marketer)
        batch_id = await pending_batch(engine, campaign["id"], "HL-##########", 2_000)
        run = asyncio.create_task(generation.run_batch(engine, batch_id, clock=utc_now))
        await asyncio.wait_for(hold.held.wait(), HOLD_SECONDS)
        try:
            async with engine.connect() as connection:
                advisory = await connection.scalar(
                    text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")
                )
        finally:
            hold.release.set()
            ended = await run
    assert advisory == 0
    assert ended is not None
    assert ended.status == "done"
