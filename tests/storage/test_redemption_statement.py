"""The one-statement redemption of PostgreSQL (promo.redemptions.one_statement):
it records the redemption and its answer, or it changes nothing at all.

It runs in autocommit, so a step that refuses after earlier steps consumed
(a code used up, a customer at its limit, an order or an Idempotency-Key
already taken, each between validation and the statement) must undo those
steps itself. Each case grants two redemptions from validations made before
either is written, writes the first, and checks that the second leaves every
counter, row and the budget exactly as the first left them.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
from litestar import Litestar
from sqlalchemy import text

from promo.app import create_app
from promo.auth.roles import Role
from promo.campaigns.eligibility import Accepted, Offer
from promo.db.autocommit import AsyncpgAutocommit
from promo.db.engine import create_engine, create_sessionmaker
from promo.ids import Kind, encode
from promo.redemptions import one_statement, service
from promo.redemptions.fast_path import ID_OPENING
from promo.redemptions.models import Redemption
from promo.redemptions.schemas import RedeemRequest
from promo.redemptions.validation import validate
from promo.settings import Settings
from tests.support.api import cart, create_campaign, create_code, item
from tests.support.clock import FrozenClock
from tests.support.databases import committed_database
from tests.support.factories import bearer, make_key

TAIL = b'","rest":true}'
STATE = text(
    """
    SELECT (SELECT count(*) FROM redemptions) AS redemptions,
           (SELECT count(*) FROM ledger_entries) AS ledger_entries,
           (SELECT count(*) FROM idempotency_keys) AS answers,
           (SELECT coalesce(sum(used), 0) FROM codes) AS code_uses,
           (SELECT coalesce(sum(used), 0) FROM customer_usage) AS customer_uses,
           (SELECT sum(redemptions_used) FROM campaigns) AS campaign_uses,
           (SELECT sum(budget_used) FROM campaigns) AS budget_used
    """
)


@pytest.fixture(params=["postgresql"])
def committed(request: pytest.FixtureRequest, sqlite_dir: Path) -> Iterator[Settings]:
    with committed_database(request, sqlite_dir, "promo_statement") as settings:
        yield settings


@dataclass
class Service:
    app: Litestar
    client: httpx.AsyncClient
    marketer: dict[str, str]
    clock: FrozenClock

    async def grant(self, code: str, order_id: str, customer_id: str = "c1") -> Granted:
        """The redemption a validation grants now, not yet written."""
        data = msgspec.convert(
            {
                "code": code,
                "order_id": order_id,
                "customer_id": customer_id,
                "cart": cart(item("TSHIRT-1", 2, 2500, "summer")),
            },
            RedeemRequest,
        )
        offer, decision = await validate(self.app.state.reads, data, now=self.clock())
        assert offer is not None
        assert isinstance(decision, Accepted), decision
        return Granted(service.granted(data, offer, decision, now=self.clock()), offer)

    async def write(self, granted: Granted, key: str | None = None) -> int | None:
        answer = one_statement.Answer(
            "redeem:checkout:", key or str(uuid.uuid4()), "fingerprint", ID_OPENING, TAIL
        )
        return await one_statement.redeem_and_answer(
            self.app.state.writes, granted.redemption, granted.offer, answer
        )

    async def state(self) -> dict[str, int]:
        async with self.app.state.engine.connect() as connection:
            return dict((await connection.execute(STATE)).mappings().one())


@dataclass
class Granted:
    redemption: Redemption
    offer: Offer


@pytest.fixture
async def svc(committed: Settings) -> AsyncIterator[Service]:
    engine = create_engine(committed)
    clock = FrozenClock()
    async with create_sessionmaker(engine)() as session, session.begin():
        marketer = bearer(await make_key(session, Role.MARKETER, now=clock()))
    app = create_app(committed, engine=engine, clock=clock)
    assert isinstance(app.state.writes, AsyncpgAutocommit)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://promo.test") as client:
        yield Service(app, client, marketer, clock)
    await app.state.writes.close()
    await engine.dispose()


async def campaign_with_code(
    svc: Service, code: str, *, code_limit: int | None = None, **limits: Any
) -> None:
    campaign = await create_campaign(
        svc.client, svc.marketer, limits={"budget": 1_000_000, **limits}
    )
    await create_code(svc.client, svc.marketer, campaign["id"], code, max_redemptions=code_limit)


async def test_a_redemption_and_its_answer_are_written_together(svc: Service) -> None:
    await campaign_with_code(svc, "WRITE20")
    before = await svc.state()
    key = str(uuid.uuid4())
    redemption_id = await svc.write(await svc.grant("WRITE20", "order-1"), key)
    assert redemption_id is not None
    after = await svc.state()
    assert {name: after[name] - before[name] for name in after} == {
        "redemptions": 1,
        "ledger_entries": 1,
        "answers": 1,
        "code_uses": 1,
        "customer_uses": 1,
        "campaign_uses": 1,
        "budget_used": 1000,  # 20% of 5000
    }
    async with svc.app.state.engine.connect() as connection:
        stored = await connection.scalar(
            text("SELECT response_body FROM idempotency_keys WHERE key = :key"), {"key": key}
        )
    assert stored == ID_OPENING + encode(Kind.REDEMPTION, redemption_id).encode() + TAIL


@pytest.mark.parametrize(
    ("stopped_by", "limits", "second_order", "second_customer", "same_key"),
    [
        ("campaign used up", {"max_redemptions": 1}, "order-2", "c2", False),
        ("budget spent", {"budget": 1000}, "order-2", "c2", False),
        ("code used up", {"code_limit": 1}, "order-2", "c2", False),
        ("customer at its limit", {"max_redemptions_per_customer": 1}, "order-2", "c1", False),
        ("order already redeemed", {}, "order-1", "c2", False),
        ("Idempotency-Key already used", {}, "order-2", "c2", True),
    ],
)
async def test_a_statement_that_stops_short_changes_nothing(
    svc: Service,
    stopped_by: str,
    limits: dict[str, Any],
    second_order: str,
    second_customer: str,
    same_key: bool,
) -> None:
    await campaign_with_code(svc, "SHORT20", **limits)
    first = await svc.grant("SHORT20", "order-1", "c1")
    second = await svc.grant("SHORT20", second_order, second_customer)
    key = str(uuid.uuid4())
    assert await svc.write(first, key) is not None
    after_first = await svc.state()
    assert await svc.write(second, key if same_key else None) is None, stopped_by
    assert await svc.state() == after_first, stopped_by
