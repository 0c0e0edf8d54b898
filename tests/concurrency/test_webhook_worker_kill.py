"""`promo worker` processes on PostgreSQL deliver webhooks at least once: one
killed with SIGKILL while deliveries are in flight (the receiver is slow), and
another started after it, end with every event delivered and signed; an event
is received twice only when its first delivery was cut by the kill."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from promo.auth.roles import Role
from promo.clock import utc_now
from promo.db.engine import create_engine, create_sessionmaker
from promo.events import outbox
from promo.events.outbox import EventType
from promo.ids import Kind, encode
from promo.settings import Settings
from promo.webhooks import service, urls
from promo.webhooks.models import Attempt, Delivery
from promo.webhooks.schemas import WebhookCreate
from tests.conftest import TEST_SECRET
from tests.support.databases import committed_database
from tests.support.receiver import Receiver, running_receiver
from tests.support.server import start_worker as start_worker_process

EVENTS = 80
LEASE_SECONDS = "3"


@pytest.fixture(scope="module", params=["postgresql"])
def committed(request: pytest.FixtureRequest, sqlite_dir: Path) -> Iterator[Settings]:
    with committed_database(request, sqlite_dir, "promo_webhook_kill") as settings:
        yield settings


@pytest.fixture
async def engine(committed: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(committed)
    yield engine
    await engine.dispose()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as receiver:
        receiver.delay = 0.25
        yield receiver


def start_worker(settings: Settings, log: Path) -> subprocess.Popen[bytes]:
    return start_worker_process(
        settings.database_url,
        secret=TEST_SECRET,
        log=log,
        extra_env={
            "PROMO_JOB_LEASE_SECONDS": LEASE_SECONDS,
            "PROMO_WEBHOOK_SCHEMES": "http",
            "PROMO_WEBHOOK_ALLOWED_HOSTS": "127.0.0.1",
        },
    )


async def delivered(engine: AsyncEngine) -> int:
    async with create_sessionmaker(engine)() as session:
        count = await session.scalar(
            select(func.count()).select_from(Delivery).where(Delivery.status == "delivered")
        )
        return int(count or 0)


def tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:]


async def until(
    condition: Callable[[], Awaitable[bool]], what: str, log: Path, seconds: float = 120
) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{what} after {seconds} s:\n{tail(log)}")


async def test_a_worker_killed_mid_delivery_is_taken_over_and_every_event_arrives(
    committed: Settings, engine: AsyncEngine, receiver: Receiver
) -> None:
    sessions = create_sessionmaker(engine)
    async with sessions() as session, session.begin():
        sub = await service.create(
            session,
            WebhookCreate(url=receiver.url, events=["redemption.created"]),
            urls.Policy.of(committed),
            role=Role.MARKETER,
            now=utc_now(),
        )
        secret = sub.secret
    async with sessions() as session, session.begin():
        ids = [
            await outbox.emit(
                session,
                EventType.REDEMPTION_CREATED,
                {"id": f"red_{n}", "customer_ref": "1:x"},
                now=utc_now(),
            )
            for n in range(EVENTS)
        ]
    expected = {encode(Kind.EVENT, i) for i in ids if i is not None}
    log = Path(tempfile.mkdtemp(prefix="promo-webhook-worker-")) / "workers.log"

    first = start_worker(committed, log)
    try:

        async def some_received() -> bool:
            return len(receiver.received) >= 20 and receiver.in_flight > 0

        await until(some_received, "no delivery in flight", log)
        in_flight = receiver.in_flight
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        killed_at = time.monotonic()
    finally:
        if first.poll() is None:
            first.kill()
    assert in_flight > 0, "the worker was killed between deliveries, not during one"
    assert await delivered(engine) < EVENTS

    second = start_worker(committed, log)
    try:

        async def all_delivered() -> bool:
            return await delivered(engine) == EVENTS

        await until(all_delivered, "not every event delivered", log)
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(30)
    assert second.returncode == 0, tail(log)

    seen = Counter(receiver.ids())
    assert set(seen) == expected, "every event, nothing else"
    for received in receiver.received:
        assert received.verified(secret)["id"] == received.id
    twice = {event_id for event_id, count in seen.items() if count > 1}
    for event_id in twice:
        arrivals = sorted(r.at for r in receiver.received if r.id == event_id)
        # Sent again only because the first sending was cut by the kill.
        assert arrivals[0] < killed_at < arrivals[-1], event_id
    assert len(twice) <= in_flight + 4  # at most what was in flight or being sent then
    async with sessions() as session:
        logged = Counter(
            await session.scalars(select(Attempt.delivery_id).where(Attempt.outcome == "delivered"))
        )
    assert len(logged) == EVENTS
    assert set(logged.values()) == {1}, "each delivery logged delivered once"
