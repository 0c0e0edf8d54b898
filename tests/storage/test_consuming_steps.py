"""The consuming steps of a redemption (promo.checkout.steps) record the
redemption, its event and its answer, or change nothing at all, on both
databases.

On PostgreSQL they run as one autocommitted statement, so a step that stops
after earlier steps consumed (a code used up, a customer at its limit, a
first order, an order or an Idempotency-Key already taken, each between
validation and the write) must undo those itself; on SQLite they run one by
one in a transaction that is rolled back. Each case grants two redemptions
from validations made before either is written, writes the first, and checks
that the second stops at the step expected and leaves every counter, row and
the budget exactly as the first left them.
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
from promo.checkout import redemption, steps
from promo.checkout.eligibility import Accepted, Offer
from promo.checkout.idempotency import AnswerKey
from promo.checkout.models import Redemption
from promo.checkout.schemas import RedeemRequest
from promo.checkout.validation import identity_of, validate
from promo.db.autocommit import AsyncpgAutocommit
from promo.db.engine import create_engine, create_sessionmaker
from promo.identity import Identity
from promo.ids import Kind, encode
from promo.settings import Settings
from tests.support.api import cart, create_campaign, create_code, item
from tests.support.clock import FrozenClock
from tests.support.databases import committed_database
from tests.support.factories import bearer, make_key

ID_OPENING = redemption.ID_OPENING
TAIL = b'","rest":true}'
STATE = text(
    """
    SELECT (SELECT count(*) FROM redemptions) AS redemptions,
           (SELECT count(*) FROM ledger_entries) AS ledger_entries,
           (SELECT count(*) FROM idempotency_keys) AS answers,
           (SELECT count(*) FROM events) AS events,
           (SELECT coalesce(sum(used), 0) FROM codes) AS code_uses,
           (SELECT coalesce(sum(used), 0) FROM customer_usage) AS customer_uses,
           (SELECT coalesce(sum(live), 0) FROM customer_orders) AS customer_orders,
           (SELECT sum(redemptions_used) FROM campaigns) AS campaign_uses,
           (SELECT sum(budget_used) FROM campaigns) AS budget_used
    """
)


@pytest.fixture(params=["sqlite", "postgresql"])
def committed(request: pytest.FixtureRequest, sqlite_dir: Path) -> Iterator[Settings]:
    with committed_database(request, sqlite_dir, "promo_statement") as settings:
        yield settings


@dataclass
class Service:
    app: Litestar
    client: httpx.AsyncClient
    marketer: dict[str, str]
    clock: FrozenClock

    async def grant(
        self, code: str, order_id: str, customer_id: str = "c1", **identity: Any
    ) -> Granted:
        """The redemption a validation grants now, not yet written."""
        data = msgspec.convert(
            {
                "code": code,
                "order_id": order_id,
                "customer_id": customer_id,
                "first_order": True,
                "cart": cart(item("TSHIRT-1", 2, 2500, "summer")),
                **identity,
            },
            RedeemRequest,
        )
        reads = self.app.state.reads
        who = identity_of(data, self.app.state.keyring)
        offer, shopper, decision = await validate(reads, data, who, now=self.clock())
        assert offer is not None
        assert isinstance(decision, Accepted), decision
        red = redemption.granted(data, offer, shopper, decision, now=self.clock())
        return Granted(red, offer, who)

    async def write(self, granted: Granted, key: str | None = None) -> int | steps.Stopped:
        answer = AnswerKey("redeem:1", key or str(uuid.uuid4()), "fingerprint")
        params = redemption.step_parameters(
            granted.redemption, granted.offer, granted.identity, answer, ID_OPENING, TAIL
        )
        return await steps.run(
            self.app.state.writes,
            params,
            lambda red_id: ID_OPENING + encode(Kind.REDEMPTION, red_id).encode() + TAIL,
        )

    async def state(self) -> dict[str, int]:
        async with self.app.state.engine.connect() as connection:
            return dict((await connection.execute(STATE)).mappings().one())


@dataclass
class Granted:
    redemption: Redemption
    offer: Offer
    identity: Identity


@pytest.fixture
async def svc(committed: Settings) -> AsyncIterator[Service]:
    engine = create_engine(committed)
    clock = FrozenClock()
    async with create_sessionmaker(engine)() as session, session.begin():
        marketer = bearer(await make_key(session, Role.MARKETER, now=clock()))
    app = create_app(committed, engine=engine, clock=clock)
    assert isinstance(app.state.writes, AsyncpgAutocommit) == committed.is_postgres
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://promo.test") as client:
        yield Service(app, client, marketer, clock)
    if isinstance(app.state.writes, AsyncpgAutocommit):
        await app.state.writes.close()
    await engine.dispose()


async def campaign_with_code(
    svc: Service,
    code: str,
    *,
    code_limit: int | None = None,
    first_only: bool = False,
    **limits: Any,
) -> None:
    campaign = await create_campaign(
        svc.client,
        svc.marketer,
        limits={"budget": 1_000_000, **limits},
        rules={"include_categories": ["summer"], "first_order_only": first_only},
    )
    await create_code(svc.client, svc.marketer, campaign["id"], code, max_redemptions=code_limit)


async def test_a_redemption_and_its_answer_are_written_together(svc: Service) -> None:
    await campaign_with_code(svc, "WRITE20")
    before = await svc.state()
    key = str(uuid.uuid4())
    redemption_id = await svc.write(await svc.grant("WRITE20", "order-1"), key)
    assert isinstance(redemption_id, int)
    after = await svc.state()
    assert {name: after[name] - before[name] for name in after} == {
        "redemptions": 1,
        "ledger_entries": 1,
        "answers": 1,
        "events": 1,
        "code_uses": 1,
        "customer_uses": 1,
        "customer_orders": 1,
        "campaign_uses": 1,
        "budget_used": 1000,  # 20% of 5000
    }
    async with svc.app.state.engine.connect() as connection:
        stored = await connection.scalar(
            text("SELECT response_body FROM idempotency_keys WHERE key = :key"), {"key": key}
        )
    assert stored == ID_OPENING + encode(Kind.REDEMPTION, redemption_id).encode() + TAIL
    async with svc.app.state.engine.connect() as connection:
        event = (
            await connection.execute(
                text("SELECT type, CAST(payload AS TEXT) AS payload, created_at FROM events")
            )
        ).one()
    # The event's payload is the answer, byte for byte.
    assert event.type == "redemption.created"
    assert event.payload.encode() == stored


@pytest.mark.parametrize(
    ("step", "limits", "second_order", "second_customer"),
    [
        ("campaign", {"max_redemptions": 1}, "order-2", {"customer_id": "c2"}),
        ("campaign", {"budget": 1000}, "order-2", {"customer_id": "c2"}),
        ("code", {"code_limit": 1}, "order-2", {"customer_id": "c2"}),
        ("customer", {"max_redemptions_per_customer": 1}, "order-2", {"customer_id": "c1"}),
        (
            "customer_alt",
            {"max_redemptions_per_customer": 1},
            "order-2",
            {"customer_id": "c2", "customer_email": "ana@example.com"},
        ),
        ("first_order", {"first_only": True}, "order-2", {"customer_id": "c1"}),
        (
            "first_order_alt",
            {"first_only": True},
            "order-2",
            {"customer_id": "c2", "customer_email": "ANA+x@example.com"},
        ),
        ("redemption", {}, "order-1", {"customer_id": "c2"}),
        ("answer", {}, "order-2", {"customer_id": "c2"}),
    ],
)
async def test_steps_that_stop_change_nothing(
    svc: Service,
    step: str,
    limits: dict[str, Any],
    second_order: str,
    second_customer: dict[str, Any],
) -> None:
    await campaign_with_code(svc, "SHORT20", **limits)
    first = await svc.grant("SHORT20", "order-1", customer_email="ana@example.com")
    second = await svc.grant("SHORT20", second_order, **second_customer)
    key = str(uuid.uuid4())
    assert isinstance(await svc.write(first, key), int)
    after_first = await svc.state()
    stopped = await svc.write(second, key if step == "answer" else None)
    assert stopped == steps.Stopped(step)
    assert await svc.state() == after_first, step
