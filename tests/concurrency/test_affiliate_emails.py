"""Concurrent creations of affiliates with one e-mail: exactly one succeeds (PostgreSQL).

Real commits on a fresh database, every request its own connection and
transaction: the unique index on the canonical e-mail decides, and the loser's
error is classified by the index's name into 409 ``affiliate_email_taken``.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import httpx
import pytest
from sqlalchemy import func, select

from promo.affiliates.models import Affiliate
from promo.app import create_app
from promo.auth.roles import Role
from promo.clock import utc_now
from promo.db import migrate
from promo.db.engine import create_engine, create_sessionmaker
from promo.settings import Settings
from tests.conftest import make_settings
from tests.support.factories import bearer, make_key
from tests.support.postgres import PostgresServer

REQUESTS = 12
Arranged = tuple[httpx.AsyncClient, dict[str, str], Callable[[], Awaitable[int]]]
SPELLINGS = ["Anna.Smith@gmail.com", "annasmith+a@googlemail.com", "ANNASMITH@GMAIL.COM"]


@pytest.fixture
def committed_settings(postgres: PostgresServer) -> Iterator[Settings]:
    name = f"promo_emails_{uuid.uuid4().hex[:10]}"
    settings = make_settings(postgres.create_database(name), db_pool_size=2 * REQUESTS)
    migrate.upgrade(settings)
    yield settings
    postgres.drop_database(name)


@pytest.fixture
async def client_and_count(
    committed_settings: Settings,
) -> AsyncIterator[Arranged]:
    engine = create_engine(committed_settings)
    async with create_sessionmaker(engine)() as session, session.begin():
        marketer = bearer(await make_key(session, Role.MARKETER, now=utc_now()))

    async def count() -> int:
        async with engine.connect() as connection:
            found = await connection.scalar(select(func.count()).select_from(Affiliate))
        return int(found or 0)

    app = create_app(committed_settings, engine=engine)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://promo.test", timeout=60
    ) as client:
        yield client, marketer, count
    await engine.dispose()


async def test_concurrent_creations_with_one_email_make_one_affiliate(
    client_and_count: Arranged,
) -> None:
    client, marketer, count = client_and_count
    responses = await asyncio.gather(
        *(
            client.post(
                "/v1/affiliates",
                json={"name": f"Anna {i}", "email": SPELLINGS[i % len(SPELLINGS)]},
                headers=marketer,
            )
            for i in range(REQUESTS)
        )
    )
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {201: 1, 409: REQUESTS - 1}, [r.text for r in responses]
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {
        "affiliate_email_taken"
    }
    assert await count() == 1
