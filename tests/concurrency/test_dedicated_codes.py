"""Concurrent first requests for a dedicated code produce exactly one code (PostgreSQL).

Real commits on a fresh database: the app has its own engine, every request
its own connection and transaction, so the race is decided by PostgreSQL's
unique indexes and ``ON CONFLICT DO NOTHING``, not by the test's ordering.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from promo.app import create_app
from promo.auth.roles import Role
from promo.clock import utc_now
from promo.codes.models import Code
from promo.db import migrate
from promo.db.engine import create_engine, create_sessionmaker
from promo.ids import Kind, decode
from promo.settings import Settings
from tests.conftest import make_settings
from tests.support.api import SUMMER, merged
from tests.support.factories import bearer, make_key
from tests.support.postgres import PostgresServer

REQUESTS = 20


@dataclass(frozen=True)
class Service:
    client: httpx.AsyncClient
    engine: AsyncEngine
    marketer: dict[str, str]


@pytest.fixture
def committed_settings(postgres: PostgresServer) -> Iterator[Settings]:
    """A fresh, migrated database whose rows are really committed."""
    name = f"promo_dedicated_{uuid.uuid4().hex[:10]}"
    settings = make_settings(postgres.create_database(name), db_pool_size=2 * REQUESTS)
    migrate.upgrade(settings)
    yield settings
    postgres.drop_database(name)


@pytest.fixture
async def service(committed_settings: Settings) -> AsyncIterator[Service]:
    engine = create_engine(committed_settings)
    async with create_sessionmaker(engine)() as session, session.begin():
        marketer = bearer(await make_key(session, Role.MARKETER, now=utc_now()))
    app = create_app(committed_settings, engine=engine)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://promo.test", timeout=60
    ) as client:
        yield Service(client=client, engine=engine, marketer=marketer)
    await engine.dispose()


async def created(service: Service, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await service.client.post(path, json=body, headers=service.marketer)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def count_dedicated(engine: AsyncEngine, affiliate_id: str) -> int:
    async with engine.connect() as connection:
        count = await connection.scalar(
            select(func.count())
            .select_from(Code)
            .where(
                Code.kind == "dedicated",
                Code.affiliate_id == decode(Kind.AFFILIATE, affiliate_id),
            )
        )
    return int(count or 0)


async def warm_up(service: Service, headers: dict[str, str]) -> None:
    """Open the pool's connections first, so that the racing requests start together
    instead of one finishing while the others are still connecting."""
    responses = await asyncio.gather(
        *(service.client.get("/v1/me", headers=headers) for _ in range(REQUESTS))
    )
    assert {r.status_code for r in responses} == {200}


async def test_concurrent_first_requests_make_exactly_one_code(service: Service) -> None:
    campaign = await created(
        service,
        "/v1/campaigns",
        merged(SUMMER, {"open_to_affiliates": True, "affiliate_aliases": True}),
    )
    anna = await created(
        service,
        "/v1/affiliates",
        {"name": "Anna", "email": "anna@example.com", "create_key": True},
    )
    await warm_up(service, bearer(anna["key"]))
    body = {"campaign_id": campaign["id"], "alias": "SUMMERANNA10"}
    by_marketer = [
        service.client.post(
            f"/v1/affiliates/{anna['id']}/codes", json=body, headers=service.marketer
        )
        for _ in range(REQUESTS // 2)
    ]
    by_affiliate = [
        service.client.post("/v1/me/codes", json=body, headers=bearer(anna["key"]))
        for _ in range(REQUESTS - REQUESTS // 2)
    ]
    responses = await asyncio.gather(*by_marketer, *by_affiliate)

    statuses = Counter(r.status_code for r in responses)
    assert statuses == {201: 1, 200: REQUESTS - 1}, [r.text for r in responses]
    assert len({r.json()["code"]["code"] for r in responses}) == 1
    assert {r.json()["alias"]["canonical"] for r in responses} == {"SUMMERANNA10"}
    assert await count_dedicated(service.engine, anna["id"]) == 1


async def test_concurrent_requests_of_many_affiliates_get_distinct_codes(
    service: Service,
) -> None:
    campaign = await created(service, "/v1/campaigns", SUMMER)
    affiliates = [
        await created(service, "/v1/affiliates", {"name": f"A{i}", "email": f"a{i}@example.com"})
        for i in range(REQUESTS)
    ]
    responses = await asyncio.gather(
        *(
            service.client.post(
                f"/v1/affiliates/{affiliate['id']}/codes",
                json={"campaign_id": campaign["id"]},
                headers=service.marketer,
            )
            for affiliate in affiliates
            for _ in range(2)
        )
    )
    assert Counter(r.status_code for r in responses) == {201: REQUESTS, 200: REQUESTS}
    by_affiliate: dict[str, set[str]] = {}
    for response in responses:
        code = response.json()["code"]
        by_affiliate.setdefault(code["affiliate_id"], set()).add(code["canonical"])
    assert all(len(codes) == 1 for codes in by_affiliate.values())
    assert len({next(iter(codes)) for codes in by_affiliate.values()}) == REQUESTS
