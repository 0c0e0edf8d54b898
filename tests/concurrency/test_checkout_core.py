"""The checkout core under real concurrent requests, on two worker processes:
first orders, both identities of a shopper, a stalled request and its retry,
and an abusive shopper beside honest ones (PostgreSQL and SQLite)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from sqlalchemy import func, select, text

from promo.auth.roles import Role
from promo.checkout.models import CustomerUsage, Redemption
from promo.ids import Kind, decode
from promo.ledger.models import LedgerEntry
from promo.pii import DEV_PII_KEY
from tests.concurrency.conftest import Live
from tests.concurrency.test_redemption_limits import (
    fire,
    live_redemptions,
    new_campaign,
    new_code,
    scalar,
    statuses,
    unique,
)
from tests.conftest import TEST_SECRET
from tests.support.api import cart, item
from tests.support.server import start_server


def body(code: str, **fields: Any) -> dict[str, Any]:
    return {
        "code": code,
        "order_id": unique("o"),
        "cart": cart(item("TSHIRT-1", 2, 2500)),
        **fields,
    }


async def post_redemption(
    http: httpx.AsyncClient, live: Live, data: dict[str, Any], key: str | None = None
) -> httpx.Response:
    headers = {**live.headers[Role.CHECKOUT], "Idempotency-Key": key or str(uuid.uuid4())}
    return await http.post("/v1/redemptions", json=data, headers=headers)


async def test_concurrent_first_orders_of_one_customer_make_exactly_one(
    http: httpx.AsyncClient, live: Live
) -> None:
    campaign = await new_campaign(http, live, rules={"first_order_only": True})
    code = await new_code(http, live, campaign["id"])
    customer = unique("cus")
    orders = [body(code, customer_id=customer, first_order=True) for _ in range(10)]
    responses = await fire([post_redemption(http, live, order) for order in orders])
    assert statuses(responses) == {(201, "ok"): 1, (409, "first_order_only"): 9}
    assert await live_redemptions(live, campaign["id"]) == 1


async def test_first_orders_count_across_campaigns(http: httpx.AsyncClient, live: Live) -> None:
    """Two first-order campaigns at once: the customer's first order is one order."""
    codes = []
    for _ in range(2):
        campaign = await new_campaign(http, live, rules={"first_order_only": True})
        codes.append(await new_code(http, live, campaign["id"]))
    customer = unique("cus")
    orders = [body(codes[i % 2], customer_id=customer, first_order=True) for i in range(10)]
    responses = await fire([post_redemption(http, live, order) for order in orders])
    assert statuses(responses) == {(201, "ok"): 1, (409, "first_order_only"): 9}


async def test_id_and_email_of_one_shopper_share_one_allowance(
    http: httpx.AsyncClient, live: Live
) -> None:
    """Signed in (id and e-mail) and as a guest (e-mail only, spelled another
    way), at once: the per-customer limit counts the shopper once."""
    campaign = await new_campaign(http, live, limits={"max_redemptions_per_customer": 1})
    code = await new_code(http, live, campaign["id"])
    mailbox = unique("ana").lower()
    signed_in = {"customer_id": unique("cus"), "customer_email": f"{mailbox}@example.com"}
    guest = {"customer_email": f"{mailbox.upper()}+shop@Example.com"}
    orders = [body(code, **(signed_in if i % 2 else guest)) for i in range(20)]
    responses = await fire([post_redemption(http, live, order) for order in orders])
    assert statuses(responses) == {(201, "ok"): 1, (409, "customer_limit_reached"): 19}
    # And a new guest checkout with an id of its own is still that shopper.
    again = await post_redemption(
        http, live, body(code, customer_id=unique("cus"), customer_email=f"{mailbox}@example.com")
    )
    assert again.json()["code"] == "customer_limit_reached"


@asynccontextmanager
async def campaign_held(live: Live, campaign_id: str) -> AsyncIterator[None]:
    """Hold the campaign's row (PostgreSQL) or the database's write lock
    (SQLite) from outside the service, as a slow transaction would."""
    async with live.engine.connect() as connection:
        if live.engine.dialect.name == "postgresql":
            await connection.execute(
                text("SELECT id FROM campaigns WHERE id = :id FOR UPDATE"),
                {"id": decode(Kind.CAMPAIGN, campaign_id)},
            )
        else:
            driver = await connection.get_raw_connection()
            await driver.driver_connection.execute("BEGIN IMMEDIATE")  # type: ignore[union-attr]
        try:
            yield
        finally:
            await connection.rollback()


async def test_a_stalled_refund_and_its_retry_are_applied_once(
    http: httpx.AsyncClient, live: Live
) -> None:
    campaign = await new_campaign(http, live)
    code = await new_code(http, live, campaign["id"])
    redeemed = await post_redemption(http, live, body(code, customer_id=unique("cus")))
    assert redeemed.status_code == 201, redeemed.text
    redemption_id = redeemed.json()["id"]
    headers = {**live.headers[Role.CHECKOUT], "Idempotency-Key": str(uuid.uuid4())}
    refund = {"amount": 1000, "reason": "one item back"}
    path = f"/v1/redemptions/{redemption_id}/rollback"
    async with campaign_held(live, campaign["id"]):
        first = asyncio.create_task(http.post(path, json=refund, headers=headers))
        await asyncio.sleep(1.0)  # the first is now waiting behind the lock
        retry = asyncio.create_task(http.post(path, json=refund, headers=headers))
        await asyncio.sleep(2.0)
        assert not first.done()
        assert not retry.done()
        # No claim of the key is visible while they wait: there is nothing a
        # host could judge stale by its own clock and take over.
        reader = live.engine.execution_options(promo_read_only=True)  # blocks no writer
        async with reader.connect() as connection:
            claims = await connection.scalar(
                text("SELECT count(*) FROM idempotency_keys WHERE key = :key"),
                {"key": headers["Idempotency-Key"]},
            )
        assert claims == 0
    answers = [await first, await retry]
    assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
    assert answers[0].content == answers[1].content
    assert sorted(a.headers.get("idempotent-replayed", "") for a in answers) == ["", "true"]
    assert answers[0].json()["refunded_amount"] == 1000
    refunds = await scalar(
        live,
        select(func.count()).where(
            LedgerEntry.redemption_id == decode(Kind.REDEMPTION, redemption_id),
            LedgerEntry.kind == "refund",
        ),
    )
    assert refunds == 1
    refunded = await scalar(
        live,
        select(Redemption.refunded_amount).where(
            Redemption.id == decode(Kind.REDEMPTION, redemption_id)
        ),
    )
    assert refunded == 1000


async def test_an_abusive_shopper_beside_honest_ones_refuses_no_honest_shopper(
    http: httpx.AsyncClient, live: Live
) -> None:
    """Wrong codes from rotating customer ids and addresses through the store's
    one key, fired at once with honest shoppers' valid codes through it."""
    campaign = await new_campaign(http, live)
    code = await new_code(http, live, campaign["id"])
    headers = live.headers[Role.CHECKOUT]

    def validation(code: str, i: int, who: str) -> Any:
        data = {
            "code": code,
            "customer_id": f"{who}-{i}-{uuid.uuid4().hex[:6]}",
            "client_ip": f"198.51.{i % 250}.{7 if who == 'bot' else 8}",
            "cart": cart(item("TSHIRT-1", 2, 2500)),
        }
        return http.post("/v1/validations", json=data, headers=headers)

    guesses = [validation(unique("GUESS"), i, "bot") for i in range(150)]
    honest = [validation(code, i, "shopper") for i in range(50)]
    answers = await fire([*guesses, *honest])
    assert {a.status_code for a in answers} == {200}
    assert {a.json()["reason"] for a in answers[:150]} == {"code_not_found"}
    assert all(a.json()["valid"] for a in answers[150:])


ROTATED_KEY = "2:" + "r" * 40


async def test_after_a_key_rotation_concurrent_redemptions_count_the_old_uses(
    http: httpx.AsyncClient, live: Live
) -> None:
    """Uses made under the old PII key, then a restart on a new key with the old
    one retired, then 40 redemptions at once on two workers: exactly the uses
    left are granted, and a first order made before the rotation still counts."""
    limited = await new_campaign(http, live, limits={"max_redemptions_per_customer": 3})
    limited_code = await new_code(http, live, limited["id"])
    welcome = await new_campaign(http, live, rules={"first_order_only": True})
    welcome_code = await new_code(http, live, welcome["id"])
    customer = {"customer_email": f"{unique('rot').lower()}@example.com"}
    before = await post_redemption(http, live, body(limited_code, **customer))
    assert before.status_code == 201, before.text
    old_ref = before.json()["customer_ref"]
    rotated = start_server(
        live.settings.database_url,
        workers=2,
        secret=TEST_SECRET,
        extra_env={"PROMO_PII_KEY": ROTATED_KEY, "PROMO_PII_RETIRED_KEYS": DEV_PII_KEY},
    )
    try:
        async with httpx.AsyncClient(base_url=rotated.url, timeout=60) as after:
            orders = [body(limited_code, **customer) for _ in range(40)]
            responses = await fire([post_redemption(after, live, order) for order in orders])
            assert statuses(responses) == {(201, "ok"): 2, (409, "customer_limit_reached"): 38}
            new_refs = {r.json()["customer_ref"] for r in responses if r.status_code == 201}
            assert len(new_refs) == 1
            assert new_refs != {old_ref}
            assert next(iter(new_refs)).startswith("2:")
            firsts = [body(welcome_code, first_order=True, **customer) for _ in range(10)]
            responses = await fire([post_redemption(after, live, order) for order in firsts])
            assert statuses(responses) == {(409, "first_order_only"): 10}
    finally:
        rotated.stop()
    used = await scalar(
        live,
        select(func.sum(CustomerUsage.used)).where(
            CustomerUsage.campaign_id == decode(Kind.CAMPAIGN, limited["id"])
        ),
    )
    assert used == 3
    assert await live_redemptions(live, limited["id"]) == 3
