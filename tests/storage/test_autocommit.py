"""The checkout's single-statement reads (promo.db.autocommit) on a committed database.

On PostgreSQL an app bound to an engine reads API keys and offers through its
own asyncpg pool; on SQLite through SQLAlchemy. Either way a validation must
see what was committed a moment before: usage, JSON rules, a revoked key.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
from sqlalchemy import literal, select, text

from promo.app import create_app
from promo.auth.roles import Role
from promo.db.autocommit import MAX_PREPARED_SQL, AsyncpgAutocommit, SessionAutocommit
from promo.db.engine import create_engine, create_sessionmaker
from promo.settings import Settings
from tests.conftest import make_settings
from tests.support.api import cart, create_campaign, create_code, item, redeem
from tests.support.clock import FrozenClock
from tests.support.databases import committed_database
from tests.support.factories import bearer, make_key
from tests.support.postgres import PostgresServer

TSHIRTS = cart(item("TSHIRT-1", 2, 2500, "summer"))


@pytest.fixture(params=["sqlite", "postgresql"])
def committed(request: pytest.FixtureRequest, sqlite_dir: Path) -> Iterator[Settings]:
    with committed_database(request, sqlite_dir, "promo_reads") as settings:
        yield settings


@pytest.fixture
async def service(committed: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, Any]]]:
    engine = create_engine(committed)
    clock = FrozenClock()
    async with create_sessionmaker(engine)() as session, session.begin():
        keys = {role: bearer(await make_key(session, role, now=clock())) for role in Role}
    app = create_app(committed, engine=engine, clock=clock)
    on_postgres = committed.database_url.startswith("postgresql")
    assert isinstance(app.state.reads, AsyncpgAutocommit if on_postgres else SessionAutocommit)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://promo.test") as client:
        yield client, keys
    if isinstance(app.state.reads, AsyncpgAutocommit):
        await app.state.reads.close()
    await engine.dispose()


async def validate(client: httpx.AsyncClient, headers: dict[str, str], **body: Any) -> Any:
    response = await client.post("/v1/validations", json=body, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_validations_read_committed_usage_rules_and_keys(
    service: tuple[httpx.AsyncClient, dict[Role, dict[str, str]]],
) -> None:
    client, keys = service
    marketer, checkout = keys[Role.MARKETER], keys[Role.CHECKOUT]
    campaign = await create_campaign(
        client,
        marketer,
        rules={"min_subtotal": 4000, "exclude_skus": ["GIFT-CARD"]},
        limits={"max_redemptions_per_customer": 1},
    )
    await create_code(client, marketer, campaign["id"], "READS20")

    first = await validate(client, checkout, code="reads-20", customer_id="c1", cart=TSHIRTS)
    assert first["valid"] is True
    assert first["campaign_id"] == campaign["id"]
    assert first["discount"]["total"] == 1000  # 20% of 5000
    short = await validate(
        client, checkout, code="READS20", customer_id="c1", cart=cart(item("TSHIRT-1", 1, 2500))
    )
    assert short["reason"] == "min_subtotal_not_met"  # the rules, read from JSON
    assert short["details"] == {"min_subtotal": 4000, "missing_subtotal": 1500}

    sold = await redeem(
        client, checkout, code="READS20", customer_id="c1", order_id="o1", cart=TSHIRTS
    )
    assert sold.status_code == 201, sold.text
    again = await validate(client, checkout, code="READS20", customer_id="c1", cart=TSHIRTS)
    assert again["reason"] == "customer_limit_reached"  # the usage just committed
    other = await validate(client, checkout, code="READS20", customer_id="c2", cart=TSHIRTS)
    assert other["valid"] is True

    unknown = await validate(client, checkout, code="NOPE20", cart=TSHIRTS)
    assert unknown["reason"] == "code_not_found"

    me = (await client.get("/v1/key", headers=checkout)).json()
    revoked = await client.post(f"/v1/keys/{me['id']}/revoke", headers=keys[Role.ADMIN])
    assert revoked.status_code == 200, revoked.text
    refused = await client.post(
        "/v1/validations", json={"code": "READS20", "cart": TSHIRTS}, headers=checkout
    )
    assert refused.status_code == 401  # at once: keys are read on every request


# Longer than asyncpg's own default limit for the statements it keeps prepared
# (15 KiB), as the redemption's statement with its ``period`` step is.
PADDED = select(literal(1).label("one")).where(text("true /* " + "x" * 20_000 + " */"))
PREPARED_PADDED = text(
    "SELECT count(*)::int AS kept, coalesce(sum(generic_plans + custom_plans), 0)::int AS runs"
    " FROM pg_prepared_statements WHERE length(statement) > 20000"
)


async def test_a_long_hot_statement_stays_prepared_on_its_connection(
    postgres: PostgresServer,
) -> None:
    settings = make_settings(postgres.create_database(f"promo_prep_{uuid.uuid4().hex[:8]}"))
    reads = AsyncpgAutocommit(msgspec.structs.replace(settings, db_pool_size=1))
    try:
        for _ in range(3):
            assert dict(await reads.first(PADDED, {}) or {}) == {"one": 1}
        # One connection: the statement kept prepared on it and run there three
        # times (an unnamed, unkept statement is not listed at all).
        found = await reads.first(PREPARED_PADDED, {})
        assert dict(found or {}) == {"kept": 1, "runs": 3}
    finally:
        await reads.close()


def test_a_statement_too_long_to_stay_prepared_is_refused_where_it_is_compiled() -> None:
    too_long = select(literal(1)).where(text("true /* " + "x" * MAX_PREPARED_SQL + " */"))
    with pytest.raises(ValueError, match="planned on every call"):
        AsyncpgAutocommit(make_settings("postgresql+asyncpg://promo@localhost/none")).compiled(
            too_long
        )
