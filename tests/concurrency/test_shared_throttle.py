"""The attempt budgets live in Redis when PROMO_REDIS_URL is set: every worker shares them.

A throwaway redis-server (tests.support.redis) backs both a unit-level test of
RedisStore and a real `promo serve` with two worker processes over its own
committed SQLite database. Without redis-server the tests skip, or fail in CI.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as redis

from promo.auth.roles import Role
from promo.checkout.throttle import Limit, MemoryStore, RedisStore, Store, Throttle
from promo.clock import utc_now
from promo.db import migrate
from promo.db.engine import create_engine, create_sessionmaker
from promo.errors import TooManyRequests
from promo.settings import Settings
from tests.conftest import IN_CI, TEST_SECRET, make_settings
from tests.support.api import SUMMER, cart, item, merged
from tests.support.factories import bearer, make_key
from tests.support.redis import RedisServer, RedisUnavailable, start_redis
from tests.support.server import ServerProcess, start_server

LIMIT = 30
# A day-long window: the run never straddles two buckets (see fire_guesses).
WINDOW = 86_400
WORKER_CLIENT = "promo-worker"


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    try:
        server = start_redis()
    except RedisUnavailable as exc:
        if IN_CI:
            pytest.fail(f"redis-server is required in CI: {exc}")
        pytest.skip(f"redis-server not available: {exc}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def redis_client(redis_server: RedisServer) -> AsyncIterator[Any]:
    client: Any = redis.from_url(redis_server.url)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
async def stores(redis_server: RedisServer) -> AsyncIterator[tuple[RedisStore, RedisStore]]:
    """Two stores on one Redis, as two worker processes would have."""
    first, second = RedisStore(redis_server.url), RedisStore(redis_server.url)
    try:
        yield first, second
    finally:
        await first.close()
        await second.close()


# --- RedisStore against a real redis-server -----------------------------------


def fresh(scope: str = "key") -> str:
    return f"{scope}:{uuid.uuid4().hex}"


async def test_redis_store_counts_a_bucket_and_the_previous_one(
    stores: tuple[RedisStore, RedisStore],
) -> None:
    store, _ = stores
    key, other = fresh(), fresh()
    for _ in range(3):
        await store.add([key], 100, ttl=60)
    assert await store.add([key, other], 101, ttl=60) == [(1, 3), (1, 0)]
    assert await store.counts([key, other], 101) == [(1, 3), (1, 0)]
    assert await store.counts([key], 102) == [(0, 1)]
    assert await store.counts([fresh()], 101) == [(0, 0)]


async def test_redis_counts_expire_once_they_can_no_longer_be_read(
    stores: tuple[RedisStore, RedisStore], redis_client: Any
) -> None:
    store, _ = stores
    key = fresh()
    await store.add([key], 7, ttl=121)
    await store.add([key], 7, ttl=121)  # a later add keeps the first expiry
    ttl = await redis_client.ttl(f"promo:throttle:{key}:7")
    assert 0 < ttl <= 121


async def test_concurrent_failures_from_two_stores_are_all_counted(
    stores: tuple[RedisStore, RedisStore],
) -> None:
    first, second = stores
    key = fresh()
    await asyncio.gather(*[(first, second)[i % 2].add([key], 5, ttl=60) for i in range(200)])
    assert await first.counts([key], 5) == [(200, 0)]
    assert await second.counts([key], 6) == [(0, 200)]


class HandClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def decisions(store: Store, who: dict[str, str | None]) -> list[int | None]:
    """Attempts every 7 s for 10 minutes, all failing when let through: the
    Retry-After of each refusal, None for each attempt let through."""
    clock = HandClock(60.0 * 29_000_000)
    throttle = Throttle(store, [Limit("key", 5), Limit("customer", 3)], 60, clock=clock)
    seen: list[int | None] = []
    for _ in range(86):
        try:
            attempt = await throttle.begin(who)
            await attempt.failed()
        except TooManyRequests as exc:
            seen.append(exc.extra["retry_after"])
        else:
            seen.append(None)
        clock.now += 7
    return seen


async def test_throttle_over_redis_decides_like_the_memory_store(
    stores: tuple[RedisStore, RedisStore],
) -> None:
    store, _ = stores
    who: dict[str, str | None] = {"key": uuid.uuid4().hex, "customer": uuid.uuid4().hex}
    over_redis = await decisions(store, who)
    assert over_redis == await decisions(MemoryStore(), who)
    assert None in over_redis
    assert any(over_redis)


# --- two worker processes share the limit through Redis ------------------------


@pytest.fixture(scope="module")
def throttle_db() -> Iterator[Settings]:
    directory = Path(tempfile.mkdtemp(prefix="promo-throttle-"))
    settings = make_settings(f"sqlite+aiosqlite:///{directory / 'throttle.db'}")
    migrate.upgrade(settings)
    try:
        yield settings
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="module")
async def keys(throttle_db: Settings) -> dict[str, dict[str, str]]:
    engine = create_engine(throttle_db)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            now = utc_now()
            return {
                "marketer": bearer(await make_key(session, Role.MARKETER, now=now)),
                "guesser": bearer(await make_key(session, Role.CHECKOUT, now=now)),
                "shop": bearer(await make_key(session, Role.CHECKOUT, now=now)),
                "burst": bearer(await make_key(session, Role.CHECKOUT, now=now)),
            }
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
def shared_server(
    throttle_db: Settings, redis_server: RedisServer, keys: dict[str, dict[str, str]]
) -> Iterator[ServerProcess]:
    server = start_server(
        throttle_db.database_url,
        workers=2,
        secret=TEST_SECRET,
        extra_env={
            # Named, so that the test can tell the workers' connections in CLIENT LIST.
            "PROMO_REDIS_URL": f"{redis_server.url}?client_name={WORKER_CLIENT}",
            "PROMO_THROTTLE_FAILURES_PER_CUSTOMER": str(LIMIT),
            "PROMO_THROTTLE_KEY_SLOWDOWN_MS": "0",
            "PROMO_THROTTLE_WINDOW_SECONDS": str(WINDOW),
        },
    )
    try:
        yield server
    finally:
        server.stop()


async def worker_connections(redis_client: Any) -> int:
    """Redis connections of the server's workers (each worker has one pool; requests
    here come one at a time, so one connection per worker)."""
    clients = await redis_client.client_list()
    return sum(1 for c in clients if c.get("name") == WORKER_CLIENT)


async def test_two_workers_share_one_failure_budget_through_redis(
    shared_server: ServerProcess, keys: dict[str, dict[str, str]], redis_client: Any
) -> None:
    # Fresh connections for every request, so that both workers take some.
    limits = httpx.Limits(max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=shared_server.url, limits=limits, timeout=30) as http:
        body = merged(SUMMER, {"starts_at": "2020-01-01T00:00:00Z", "ends_at": None})
        campaign = await http.post("/v1/campaigns", json=body, headers=keys["marketer"])
        assert campaign.status_code == 201, campaign.text
        code = await http.post(
            f"/v1/campaigns/{campaign.json()['id']}/codes",
            json={"code": "SHARED20"},
            headers=keys["marketer"],
        )
        assert code.status_code == 201, code.text

        # Never straddle two buckets: the previous one would weigh a little less.
        left = WINDOW - time.time() % WINDOW
        if left < 60:
            await asyncio.sleep(left + 1)

        def guess(i: int) -> Any:
            body = {
                "code": f"GUESS{i:05d}",
                "customer_id": "guesser",
                "cart": cart(item("A", 1, 1000)),
            }
            return http.post("/v1/validations", json=body, headers=keys["guesser"])

        answers = [await guess(i) for i in range(3 * LIMIT)]
        # A worker that never served a guess proves nothing: go on (each further
        # guess is refused, after reading the shared counts) until both have.
        extra = 0
        while await worker_connections(redis_client) < 2 and extra < 200:
            answers.append(await guess(10_000 + extra))
            extra += 1
        assert await worker_connections(redis_client) == 2, "one worker served every request"

        statuses = [r.status_code for r in answers]
        # Exactly the limit, not once per worker: the first LIMIT answers are
        # told the code does not exist, every later one is throttled.
        assert statuses == [200] * LIMIT + [429] * (len(answers) - LIMIT)
        assert {r.json()["reason"] for r in answers[:LIMIT]} == {"code_not_found"}
        for refused in answers[LIMIT:]:
            assert refused.json()["code"] == "too_many_failed_attempts"
            assert int(refused.headers["retry-after"]) >= 1

        # Another shopper, through the same checkout or another, is answered as
        # usual, on whichever worker answers it.
        for i in range(6):
            valid = await http.post(
                "/v1/validations",
                json={
                    "code": "shared-2o",
                    "customer_id": f"honest-{i}",
                    "cart": cart(item("A", 1, 1000)),
                },
                headers=keys["shop" if i % 2 else "guesser"],
            )
            assert valid.status_code == 200, valid.text
            assert valid.json()["valid"] is True


async def test_a_burst_of_simultaneous_guesses_gets_exactly_the_budget_through(
    shared_server: ServerProcess, keys: dict[str, dict[str, str]]
) -> None:
    """Three budgets' worth of guesses fired at once over both workers: however many
    pass the check before any is counted, exactly the budget is answered."""
    limits = httpx.Limits(max_connections=60, max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=shared_server.url, limits=limits, timeout=60) as http:

        def guess(i: int) -> Any:
            body = {
                "code": f"BURST{i:05d}",
                "customer_id": "burst",
                "cart": cart(item("A", 1, 1000)),
            }
            return http.post("/v1/validations", json=body, headers=keys["burst"])

        answers = await asyncio.gather(*[guess(i) for i in range(3 * LIMIT)])
    statuses = sorted(r.status_code for r in answers)
    assert statuses == [200] * LIMIT + [429] * (2 * LIMIT)
    assert {r.json()["reason"] for r in answers if r.status_code == 200} == {"code_not_found"}
