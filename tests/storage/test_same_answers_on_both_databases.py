"""One checkout, two databases, the same answers.

The checkout core runs its consuming steps as one statement on PostgreSQL and
one by one on SQLite. The same sequence of requests (successes, every kind of
refusal, replays, refunds and rollbacks) is replayed against a fresh database
of each, on the same frozen clock, and every answer (status, body, replay
mark) and the final ledger must be byte for byte the same.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from promo.app import create_app
from promo.auth.roles import Role
from promo.db import migrate
from promo.db.autocommit import AsyncpgAutocommit
from promo.db.engine import create_engine, create_sessionmaker
from tests.conftest import make_settings
from tests.support.api import SUMMER, cart, item, merged
from tests.support.clock import FrozenClock
from tests.support.factories import bearer, make_key
from tests.support.postgres import PostgresServer

Answer = tuple[int, str, bytes]


@asynccontextmanager
async def service(database_url: str) -> AsyncIterator[tuple[httpx.AsyncClient, dict[Role, Any]]]:
    settings = make_settings(database_url)
    engine = create_engine(settings)
    clock = FrozenClock()
    async with create_sessionmaker(engine)() as session, session.begin():
        keys = {
            role: bearer(await make_key(session, role, now=clock()))
            for role in (Role.MARKETER, Role.CHECKOUT, Role.ACCOUNTANT)
        }
    app = create_app(settings, engine=engine, clock=clock)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://promo.test") as client:
        yield client, keys
    if isinstance(app.state.writes, AsyncpgAutocommit):
        await app.state.writes.close()
    await engine.dispose()


async def script(client: httpx.AsyncClient, keys: dict[Role, Any]) -> list[Answer]:
    """The same requests, in the same order; each answer as the client sees it."""
    answers: list[Answer] = []
    marketer, checkout = keys[Role.MARKETER], keys[Role.CHECKOUT]

    async def call(method: str, path: str, headers: dict[str, str], **kw: Any) -> Any:
        response = await client.request(method, path, headers=headers, **kw)
        replayed = response.headers.get("idempotent-replayed", "")
        answers.append((response.status_code, replayed, response.content))
        return response.json()

    def tshirts(quantity: int = 2, shipping: int = 490) -> dict[str, Any]:
        return cart(item("TSHIRT-1", quantity, 2500, "summer"), shipping=shipping)

    async def redeem(key: str, **body: Any) -> Any:
        headers = {**checkout, "Idempotency-Key": key}
        return await call("POST", "/v1/redemptions", headers, json=body)

    active = {"starts_at": "2026-01-01T00:00:00Z", "ends_at": None}
    limited = await call(
        "POST",
        "/v1/campaigns",
        marketer,
        json=merged(
            merged(SUMMER, active),
            {"limits": {"max_redemptions": 4, "max_redemptions_per_customer": 1, "budget": 2500}},
        ),
    )
    first_only = await call(
        "POST",
        "/v1/campaigns",
        marketer,
        json=merged(merged(SUMMER, active), {"rules": {"first_order_only": True}}),
    )
    shipping = await call(
        "POST",
        "/v1/campaigns",
        marketer,
        json=merged(merged(SUMMER, active), {"discount": {"type": "free_shipping"}}),
    )
    for campaign, code, extra in (
        (limited, "LIMITED", {"max_redemptions": 3}),
        (first_only, "WELCOME", {}),
        (shipping, "SHIPFREE", {}),
    ):
        await call(
            "POST", f"/v1/campaigns/{campaign['id']}/codes", marketer, json={"code": code, **extra}
        )

    ana = {"customer_id": "cus_ana", "customer_email": "ana@example.com"}
    await call(
        "POST", "/v1/validations", checkout, json={"code": "LIMITED", "cart": tshirts(), **ana}
    )
    await call("POST", "/v1/validations", checkout, json={"code": "NOPE", "cart": tshirts()})
    ok = await redeem("k1", code="LIMITED", order_id="o1", cart=tshirts(), **ana)
    await redeem("k1", code="LIMITED", order_id="o1", cart=tshirts(), **ana)  # replay
    await redeem("k1", code="LIMITED", order_id="o1", cart=tshirts(3), **ana)  # another body
    await redeem("k2", code="LIMITED", order_id="o1", cart=tshirts(), **ana)  # order taken
    await redeem("k3", code="LIMITED", order_id="o2", cart=tshirts(), **ana)  # customer
    guest = {"customer_email": "ANA+x@example.com"}
    await redeem("k4", code="LIMITED", order_id="o3", cart=tshirts(), **guest)  # same mailbox
    await redeem("k4", code="LIMITED", order_id="o3", cart=tshirts(), **guest)  # refusal replayed
    await redeem("k5", code="LIMITED", order_id="o4", cart=tshirts(), customer_id="bo")
    await redeem("k6", code="LIMITED", order_id="o5", cart=tshirts(), customer_id="cy")  # budget
    await redeem("k7", code="LIMITED", order_id="o6", cart=tshirts(1), customer_id="di")
    await redeem("k8", code="LIMITED", order_id="o7", cart=tshirts(1), customer_id="ed")  # code
    await redeem(
        "k9", code="WELCOME", order_id="o8", cart=tshirts(), customer_id="bo", first_order=True
    )
    await redeem(
        "k10", code="WELCOME", order_id="o9", cart=tshirts(), customer_id="fa", first_order=True
    )
    await redeem(
        "k11", code="WELCOME", order_id="o10", cart=tshirts(), customer_id="fa", first_order=True
    )
    await redeem("k12", code="SHIPFREE", order_id="o11", cart=tshirts(shipping=0))
    await redeem("k13", code="LIMITED", order_id="o12", cart=tshirts(), customer_email="@@@")
    await call(
        "POST",
        "/v1/redemptions",
        checkout,
        json={"code": "LIMITED", "order_id": "o13", "cart": tshirts()},
    )

    rollback = f"/v1/redemptions/{ok['id']}/rollback"
    refund_key = {**checkout, "Idempotency-Key": "r1"}
    await call("POST", rollback, refund_key, json={"amount": 1000, "reason": "one back"})
    await call("POST", rollback, refund_key, json={"amount": 1000, "reason": "one back"})
    await call("POST", rollback, {**checkout, "Idempotency-Key": "r2"}, json={"amount": 10**6})
    await call("POST", rollback, {**checkout, "Idempotency-Key": "r3"}, json={})
    await call("POST", rollback, {**checkout, "Idempotency-Key": "r4"}, json={})
    # Everything given back: the order and the shopper may redeem again.
    await redeem("k14", code="LIMITED", order_id="o1", cart=tshirts(), **ana)

    # Reservations: a hold, its replay, the code's last use held, a confirmation,
    # its replay and a second one, then what a confirmed or released one answers.
    held = await call(
        "POST",
        "/v1/campaigns",
        marketer,
        json=merged(merged(SUMMER, active), {"limits": {"budget": 100_000}}),
    )
    for code, extra in (("HELD", {"max_redemptions": 1}), ("HELDTOO", {})):
        await call(
            "POST", f"/v1/campaigns/{held['id']}/codes", marketer, json={"code": code, **extra}
        )

    async def reserve(key: str, **body: Any) -> Any:
        headers = {**checkout, "Idempotency-Key": key}
        return await call("POST", "/v1/reservations", headers, json=body)

    async def confirm(reservation: Any, key: str, order_id: str) -> Any:
        path = f"/v1/reservations/{reservation['id']}/confirm"
        headers = {**checkout, "Idempotency-Key": key}
        return await call("POST", path, headers, json={"order_id": order_id})

    hold = await reserve("h1", code="HELD", cart=tshirts(), customer_id="gu")
    assert (await reserve("h1", code="HELD", cart=tshirts(), customer_id="gu")) == hold
    refused = await reserve("h2", code="HELD", cart=tshirts(), customer_id="ha")
    assert refused["code"] == "code_reserved"
    sold = await confirm(hold, "c1", "o20")
    assert await confirm(hold, "c1", "o20") == sold  # replay
    assert (await confirm(hold, "c2", "o20"))["id"] == sold["id"]
    assert (await confirm(hold, "c3", "o21"))["code"] == "reservation_confirmed"
    await call("POST", f"/v1/reservations/{hold['id']}/release", checkout)
    other = await reserve("h3", code="HELDTOO", cart=tshirts(), customer_id="ib", ttl_seconds=60)
    await call("POST", f"/v1/reservations/{other['id']}/release", checkout)
    await call("POST", f"/v1/reservations/{other['id']}/release", checkout)
    assert (await confirm(other, "c4", "o22"))["code"] == "reservation_released"
    await call("GET", f"/v1/reservations/{hold['id']}", checkout)
    await call("GET", f"/v1/campaigns/{held['id']}", marketer)
    await call("GET", "/v1/redemptions", checkout)
    await call("GET", "/v1/ledger", keys[Role.ACCOUNTANT])
    await call("GET", f"/v1/campaigns/{limited['id']}", marketer)
    await call("GET", "/v1/codes/LIMITED", marketer)
    return answers


@pytest.fixture
def databases(postgres: PostgresServer, sqlite_dir: Path) -> Iterator[dict[str, str]]:
    """A fresh, migrated database of each kind."""
    name = f"promo_both_{uuid.uuid4().hex[:8]}"
    urls = {
        "sqlite": f"sqlite+aiosqlite:///{sqlite_dir / name}.db",
        "postgresql": postgres.create_database(name),
    }
    for url in urls.values():
        migrate.upgrade(make_settings(url))
    try:
        yield urls
    finally:
        postgres.drop_database(name)


async def test_the_same_requests_get_the_same_answers_on_both_databases(
    databases: dict[str, str],
) -> None:
    answers = {}
    for backend, url in databases.items():
        async with service(url) as (client, keys):
            answers[backend] = await script(client, keys)
    statuses = [status for status, _, _ in answers["postgresql"]]
    # The script reaches what it is meant to: successes, refusals, replays.
    assert {201, 200, 409, 422, 400} <= set(statuses)
    assert sum(1 for _, replayed, _ in answers["postgresql"] if replayed) == 5
    for index, (sqlite, postgresql) in enumerate(
        zip(answers["sqlite"], answers["postgresql"], strict=True)
    ):
        assert sqlite == postgresql, f"request {index} answered differently"
