"""Two-sided referral programs: a referrer's personal code, a friend's first order,
the reward once the order has stood (a code bound to the referrer, or a credit),
at most so many, revoked by a refund; and no self-referral."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from litestar import Litestar
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from promo.auth.roles import Role
from promo.events.models import Event
from promo.jobs import queue
from promo.referrals import rewards
from tests.support.api import cart, create_campaign, item, redeem, rollback
from tests.support.clock import FrozenClock
from tests.support.factories import bearer

BASKET = cart(item("TEE-1", 2, 2500))
WINDOW = {"starts_at": "2026-06-01T00:00:00Z", "ends_at": "2027-06-01T00:00:00Z"}


@pytest.fixture
async def program(client: httpx.AsyncClient, marketer: dict[str, str]) -> dict[str, Any]:
    """A referral program (15% off a friend's first order) rewarding referrers with
    a 10 EUR code valid 90 days, at most twice, after 14 days."""
    reward = await create_campaign(
        client,
        marketer,
        name="Thanks",
        code_prefix="THANKS",
        discount={"type": "fixed_amount", "amount_off": 1000},
        rules={"exclude_skus": []},
        **WINDOW,
    )
    created: dict[str, Any] = await create_campaign(
        client,
        marketer,
        name="Bring a friend",
        code_prefix="FRIEND",
        kind="referral",
        discount={"type": "percentage", "percent_off": 15},
        rules={"exclude_skus": []},
        referral={
            "reward_campaign_id": reward["id"],
            "reward_valid_days": 90,
            "max_rewards_per_referrer": 2,
            "holding_days": 14,
        },
        **WINDOW,
    )
    return {"program": created, "reward": reward}


async def enrol(
    client: httpx.AsyncClient, checkout: dict[str, str], campaign_id: str, **who: str
) -> httpx.Response:
    return await client.post(
        "/v1/referrals", json={"campaign_id": campaign_id, **who}, headers=checkout
    )


async def friend_orders(
    client: httpx.AsyncClient, checkout: dict[str, str], code: str, customer: str
) -> httpx.Response:
    return await redeem(
        client,
        checkout,
        code=code,
        cart=BASKET,
        customer_id=customer,
        first_order=True,
        order_id=f"ord_{uuid.uuid4().hex[:12]}",
    )


async def settle(app: Litestar, db: AsyncSession, clock: FrozenClock) -> None:
    await queue.enqueue(db, rewards.KIND, now=clock(), unique_key=f"r-{uuid.uuid4()}")
    await db.flush()
    await app.state.jobs.worker.run_due()


async def test_a_referrer_gets_one_code_and_a_friend_its_discount(
    client: httpx.AsyncClient, checkout: dict[str, str], program: dict[str, Any]
) -> None:
    campaign = program["program"]
    assert campaign["kind"] == "referral"
    assert campaign["rules"]["first_order_only"] is True
    first = await enrol(client, checkout, campaign["id"], customer_id="alice")
    assert first.status_code == 201, first.text
    code = first.json()["code"]
    assert code.startswith("FRIEND-")
    again = await enrol(client, checkout, campaign["id"], customer_id="alice")
    assert (again.status_code, again.json()["code"]) == (200, code)
    other = await enrol(client, checkout, campaign["id"], customer_id="carol")
    assert other.json()["code"] != code
    sold = await friend_orders(client, checkout, code, "bob")
    assert sold.status_code == 201, sold.text
    assert sold.json()["discount"]["total"] == 750
    status = await client.get(f"/v1/referrals/{code.lower()}", headers=checkout)
    assert status.status_code == 200, status.text
    assert [f["status"] for f in status.json()["friends"]] == ["pending"]
    assert (status.json()["rewards_earned"], status.json()["rewards_pending"]) == (0, 1)


async def test_a_referrer_is_not_its_own_friend(
    client: httpx.AsyncClient, checkout: dict[str, str], program: dict[str, Any]
) -> None:
    made = await enrol(
        client,
        checkout,
        program["program"]["id"],
        customer_id="alice",
        customer_email="alice@example.com",
    )
    code = made.json()["code"]
    for who in ({"customer_id": "alice"}, {"customer_email": "Alice+x@example.com"}):
        response = await redeem(
            client,
            checkout,
            code=code,
            cart=BASKET,
            first_order=True,
            order_id=f"ord_{uuid.uuid4().hex[:12]}",
            **who,
        )
        assert response.status_code == 409, (who, response.text)
        assert response.json()["code"] == "self_referral"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"campaign_id": "cmp_000000000000", "customer_id": "x"}, "campaign_id"),
        ({"customer_id": "x"}, "campaign_id"),
    ],
)
async def test_enrolling_is_refused_clearly(
    client: httpx.AsyncClient,
    checkout: dict[str, str],
    program: dict[str, Any],
    body: dict[str, Any],
    field: str,
) -> None:
    if "campaign_id" not in body:
        body = {"campaign_id": program["reward"]["id"], **body}  # not a referral program
    response = await client.post("/v1/referrals", json=body, headers=checkout)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == field
    nobody = await enrol(client, checkout, program["program"]["id"])
    assert nobody.status_code == 422
    assert nobody.json()["errors"][0]["field"] == "customer_id"


async def test_the_reward_comes_once_after_the_holding_period_and_is_bound(
    client: httpx.AsyncClient,
    app: Litestar,
    db: AsyncSession,
    clock: FrozenClock,
    checkout: dict[str, str],
    program: dict[str, Any],
) -> None:
    code = (await enrol(client, checkout, program["program"]["id"], customer_id="alice")).json()[
        "code"
    ]
    for friend in ("bob", "dan", "eve"):
        assert (await friend_orders(client, checkout, code, friend)).status_code == 201
    clock.advance(days=13)
    await settle(app, db, clock)
    status = (await client.get(f"/v1/referrals/{code}", headers=checkout)).json()
    assert status["rewards_pending"] == 3
    clock.advance(days=1)
    await settle(app, db, clock)
    await settle(app, db, clock)  # a second look changes nothing
    status = (await client.get(f"/v1/referrals/{code}", headers=checkout)).json()
    assert [f["status"] for f in status["friends"]] == ["rewarded", "rewarded", "not_rewarded"]
    events = await db.scalars(select(Event).where(Event.type == "referral.rewarded"))
    payloads = [e.payload for e in events]
    assert len(payloads) == 2
    reward_code = payloads[0]["code"]
    assert reward_code.startswith("THANKS-")
    assert payloads[0]["expires_at"] is not None

    async def validate(customer: str) -> dict[str, Any]:
        answer = await client.post(
            "/v1/validations",
            json={"code": reward_code, "cart": BASKET, "customer_id": customer},
            headers=checkout,
        )
        body: dict[str, Any] = answer.json()
        return body

    assert (await validate("alice"))["valid"] is True
    assert (await validate("bob"))["reason"] == "customer_not_eligible"
    clock.advance(days=91)
    assert (await validate("alice"))["reason"] == "expired"


async def test_a_refund_after_the_reward_disables_the_unused_code_and_is_recorded(
    client: httpx.AsyncClient,
    app: Litestar,
    db: AsyncSession,
    clock: FrozenClock,
    checkout: dict[str, str],
    program: dict[str, Any],
) -> None:
    code = (await enrol(client, checkout, program["program"]["id"], customer_id="alice")).json()[
        "code"
    ]
    sold = (await friend_orders(client, checkout, code, "bob")).json()
    clock.advance(days=15)
    await settle(app, db, clock)
    assert (await rollback(client, checkout, sold["id"])).status_code == 200
    await settle(app, db, clock)
    revoked = list(await db.scalars(select(Event).where(Event.type == "referral.revoked")))
    assert [e.payload["revoked"] for e in revoked] == [True]
    reward_code = revoked[0].payload["code"]
    answer = await client.post(
        "/v1/validations",
        json={"code": reward_code, "cart": BASKET, "customer_id": "alice"},
        headers=checkout,
    )
    assert answer.json()["reason"] == "code_disabled"
    await settle(app, db, clock)
    again = await db.scalar(
        select(func.count()).select_from(Event).where(Event.type == "referral.revoked")
    )
    assert again == 1


async def test_a_credit_reward_and_a_rolled_back_friend(
    client: httpx.AsyncClient,
    app: Litestar,
    db: AsyncSession,
    clock: FrozenClock,
    checkout: dict[str, str],
    marketer: dict[str, str],
) -> None:
    credit = await create_campaign(
        client,
        marketer,
        name="Credit",
        code_prefix="CREDIT",
        kind="referral",
        discount={"type": "percentage", "percent_off": 10},
        rules={"exclude_skus": []},
        referral={"reward_credit": 500, "holding_days": 0},
        **WINDOW,
    )
    code = (await enrol(client, checkout, credit["id"], customer_email="zoe@example.com")).json()[
        "code"
    ]
    kept = (await friend_orders(client, checkout, code, "yan")).json()
    undone = (await friend_orders(client, checkout, code, "xavier")).json()
    assert (await rollback(client, checkout, undone["id"])).status_code == 200
    await settle(app, db, clock)
    status = (await client.get(f"/v1/referrals/{code}", headers=checkout)).json()
    by_id = {f["redemption_id"]: f["status"] for f in status["friends"]}
    assert by_id == {kept["id"]: "rewarded", undone["id"]: "rolled_back"}
    event = await db.scalar(select(Event).where(Event.type == "referral.rewarded"))
    assert event is not None
    assert (event.payload["kind"], event.payload["credit"], event.payload["code"]) == (
        "credit",
        500,
        None,
    )


async def test_referral_terms_are_checked(
    client: httpx.AsyncClient, marketer: dict[str, str], keys: dict[Role, str]
) -> None:
    base = {
        "name": "R",
        "currency": "EUR",
        "starts_at": "2026-06-01T00:00:00Z",
        "discount": {"type": "percentage", "percent_off": 10},
    }
    for extra, field in (
        ({"kind": "referral"}, "referral"),
        ({"kind": "referral", "referral": {}}, "referral.reward_campaign_id"),
        (
            {"kind": "referral", "referral": {"reward_campaign_id": "cmp_x"}},
            "referral.reward_campaign_id",
        ),
        ({"referral": {"reward_credit": 100}}, "referral"),
    ):
        response = await client.post("/v1/campaigns", json={**base, **extra}, headers=marketer)
        assert response.status_code == 422, (extra, response.text)
        assert response.json()["errors"][0]["field"] == field
    forbidden = await client.post(
        "/v1/referrals", json={"campaign_id": "cmp_x"}, headers=bearer(keys[Role.AFFILIATE])
    )
    assert forbidden.status_code == 403
