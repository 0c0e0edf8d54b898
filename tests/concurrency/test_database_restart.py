"""A restart of PostgreSQL under a running server: 503 while it is down, never 500
nor a hang, and every route back by itself within seconds once it returns.

The server (two workers) runs on a PostgreSQL of this module's own, so that
stopping it disturbs no other test. Each request opens a new HTTP connection
so that both workers, and their stale pooled connections, are exercised. The
two pools are also restarted under directly, for the cases a server's
requests do not reach deterministically (a connection lost in the middle of
a transaction, a pool that saw no request while the database was away).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import literal, select, text

from promo.app import build_autocommit
from promo.auth.roles import Role
from promo.clock import utc_now
from promo.db import migrate
from promo.db.autocommit import AsyncpgAutocommit
from promo.db.engine import create_engine, create_sessionmaker
from promo.errors import DatabaseUnavailable, is_database_unavailable
from promo.settings import Settings
from tests.conftest import TEST_SECRET, make_settings, running_postgres
from tests.support.api import SUMMER, cart, item, merged
from tests.support.factories import bearer, make_key
from tests.support.postgres import PostgresServer
from tests.support.server import ServerProcess, start_server

PROBLEM = "application/problem+json"
ROUNDS = 6
# No answer may take longer than this, whether the database is up or down.
MAX_SECONDS = 5.0
# Once PostgreSQL is back, every route must answer normally within this.
RECOVERY_SECONDS = 10.0


@dataclass(frozen=True)
class Restartable:
    postgres: PostgresServer
    server: ServerProcess
    headers: dict[Role, dict[str, str]]
    code: str


@pytest.fixture(scope="module")
def own_postgres() -> Iterator[PostgresServer]:
    """A server of this module's own: the tests stop and restart it."""
    yield from running_postgres()


@pytest.fixture(scope="module")
def restart_settings(own_postgres: PostgresServer) -> Settings:
    settings = make_settings(own_postgres.create_database("promo_restart"))
    migrate.upgrade(settings)
    return settings


@pytest.fixture(scope="module")
async def restartable(
    own_postgres: PostgresServer, restart_settings: Settings
) -> AsyncIterator[Restartable]:
    settings = restart_settings
    engine = create_engine(settings)
    async with create_sessionmaker(engine)() as session, session.begin():
        headers = {
            role: bearer(await make_key(session, role, now=utc_now()))
            for role in (Role.MARKETER, Role.CHECKOUT)
        }
    await engine.dispose()
    server = start_server(settings.database_url, workers=2, secret=TEST_SECRET)
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
            body = merged(SUMMER, {"starts_at": "2020-01-01T00:00:00Z", "ends_at": None})
            created = await http.post("/v1/campaigns", json=body, headers=headers[Role.MARKETER])
            assert created.status_code == 201, created.text
            code = f"SUMMER{uuid.uuid4().hex[:8].upper()}"
            made = await http.post(
                f"/v1/campaigns/{created.json()['id']}/codes",
                json={"code": code},
                headers=headers[Role.MARKETER],
            )
            assert made.status_code == 201, made.text
        yield Restartable(own_postgres, server, headers, code)
    finally:
        server.stop()


Request = Callable[[httpx.AsyncClient], Awaitable[httpx.Response]]


def requests_of_every_kind(live: Restartable) -> dict[str, tuple[Request, int]]:
    """Each kind of request and the status it answers when all is well."""
    checkout = {"code": live.code, "customer_id": "cus_1", "cart": cart(item("TEE", 1, 2500))}

    async def campaigns(http: httpx.AsyncClient) -> httpx.Response:
        return await http.get("/v1/campaigns", headers=live.headers[Role.MARKETER])

    async def validation(http: httpx.AsyncClient) -> httpx.Response:
        return await http.post(
            "/v1/validations", json=checkout, headers=live.headers[Role.CHECKOUT]
        )

    async def redemption(http: httpx.AsyncClient) -> httpx.Response:
        body = {**checkout, "order_id": f"o-{uuid.uuid4().hex}"}
        headers = {**live.headers[Role.CHECKOUT], "Idempotency-Key": str(uuid.uuid4())}
        return await http.post("/v1/redemptions", json=body, headers=headers)

    async def ready(http: httpx.AsyncClient) -> httpx.Response:
        return await http.get("/health/ready")

    return {
        "GET /v1/campaigns": (campaigns, 200),
        "POST /v1/validations": (validation, 200),
        "POST /v1/redemptions": (redemption, 201),
        "GET /health/ready": (ready, 200),
    }


async def one_round(live: Restartable) -> list[tuple[str, int, httpx.Response]]:
    """Every kind of request once, each on a new connection; (kind, expected, response)."""
    answers = []
    limits = httpx.Limits(max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=live.server.url, timeout=30, limits=limits) as http:
        for kind, (send, expected) in requests_of_every_kind(live).items():
            started = time.monotonic()
            response = await send(http)
            elapsed = time.monotonic() - started
            assert elapsed < MAX_SECONDS, f"{kind} took {elapsed:.1f} s"
            assert response.status_code < 500 or response.status_code == 503, (
                f"{kind}: {response.status_code} {response.text}\n{live.server.log_tail()}"
            )
            answers.append((kind, expected, response))
    return answers


def assert_unavailable(kind: str, response: httpx.Response) -> None:
    assert response.status_code == 503, f"{kind}: {response.status_code} {response.text}"
    assert int(response.headers["retry-after"]) >= 1, kind
    if kind != "GET /health/ready":  # the probe keeps its own body
        assert response.headers["content-type"].startswith(PROBLEM), kind
        assert response.json()["code"] == "database_unavailable", kind


def normal(answers: list[tuple[str, int, httpx.Response]]) -> bool:
    return all(response.status_code == expected for _, expected, response in answers)


async def test_routes_answer_503_while_postgres_is_down_and_recover_after(
    restartable: Restartable,
) -> None:
    live = restartable
    for _ in range(ROUNDS):  # every worker's pools hold connections
        answers = await one_round(live)
        assert normal(answers), [(k, r.status_code, r.text) for k, _, r in answers]

    await asyncio.to_thread(live.postgres.halt)
    try:
        for _ in range(ROUNDS):
            for kind, _, response in await one_round(live):
                assert_unavailable(kind, response)
    finally:
        await asyncio.to_thread(live.postgres.launch)

    back = time.monotonic()
    while not normal(answers := await one_round(live)):
        for kind, expected, response in answers:
            if response.status_code != expected:
                assert_unavailable(kind, response)
        assert time.monotonic() - back < RECOVERY_SECONDS, "not recovered"
        await asyncio.sleep(0.2)
    for _ in range(ROUNDS):  # on every worker, on every pool
        answers = await one_round(live)
        assert normal(answers), [(k, r.status_code, r.text) for k, _, r in answers]
    # Each failure was mapped to 503 by the error map, none reached its catch-all.
    assert "unhandled error" not in live.server.log.read_text(errors="replace")


PROBE = select(literal(1).label("one"))


async def test_stale_connections_of_the_engine_are_replaced_on_checkout(
    own_postgres: PostgresServer, restart_settings: Settings
) -> None:
    """A restart no request saw: the first statements after it succeed, on
    every pooled connection, without a failed request to notice the restart."""
    engine = create_engine(restart_settings)
    try:
        async with engine.connect() as one, engine.connect() as two:  # two pooled
            for connection in (one, two):
                await connection.execute(text("SELECT 1"))
        await asyncio.to_thread(own_postgres.halt)
        await asyncio.to_thread(own_postgres.launch)

        async def query() -> int:
            async with engine.connect() as connection:
                return int((await connection.execute(text("SELECT 1"))).scalar_one())

        assert await asyncio.gather(query(), query()) == [1, 1]
    finally:
        await engine.dispose()


async def test_engine_errors_while_postgres_is_down_are_classified(
    own_postgres: PostgresServer, restart_settings: Settings
) -> None:
    engine = create_engine(restart_settings)
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
            await asyncio.to_thread(own_postgres.halt)
            try:
                with pytest.raises(Exception) as lost:  # noqa: PT011 (classified below)
                    await connection.execute(text("SELECT 1"))
                assert is_database_unavailable(lost.value), repr(lost.value)
            finally:
                await connection.invalidate()
        try:
            with pytest.raises(Exception) as refused:  # noqa: PT011 (classified below)
                async with engine.connect() as connection:
                    await connection.execute(text("SELECT 1"))
            assert is_database_unavailable(refused.value), repr(refused.value)
        finally:
            await asyncio.to_thread(own_postgres.launch)
    finally:
        await engine.dispose()


async def test_checkout_pool_reconnects_and_classifies_a_lost_transaction(
    own_postgres: PostgresServer, restart_settings: Settings
) -> None:
    engine = create_engine(restart_settings)
    reads, writes = build_autocommit(restart_settings, engine)
    assert isinstance(writes, AsyncpgAutocommit)
    try:
        assert (await reads.first(PROBE, {}) or {})["one"] == 1

        # A transaction whose connection is lost between two statements: the
        # second is refused as the database being away, and ending the
        # transaction does not hide that behind another error.
        async def lose_the_connection() -> None:
            async with writes.transaction() as unit:
                await unit.first(PROBE, {})
                await asyncio.to_thread(own_postgres.halt)
                await asyncio.sleep(0.2)  # asyncpg reads the server's goodbye
                await unit.first(PROBE, {})

        with pytest.raises(DatabaseUnavailable):
            await lose_the_connection()
        try:
            with pytest.raises(Exception) as refused:  # noqa: PT011 (classified below)
                await reads.first(PROBE, {})
            assert is_database_unavailable(refused.value), repr(refused.value)
        finally:
            await asyncio.to_thread(own_postgres.launch)
        assert (await reads.first(PROBE, {}) or {})["one"] == 1
    finally:
        await writes.close()
        await engine.dispose()
