"""Webhooks end to end through the API, on both databases: a real receiver
(tests.support.receiver) gets every event once per delivery id, signed (the
Standard Webhooks library verifies it), with no customer e-mail or id in
clear; retries follow the schedule and three days of failures disable the
subscription; an event exists only if its change did.

Jobs run in full on the test's connection (the ``app`` fixture), with the
test's clock: the fan-out, the deliveries, and the scans that emit
commission.available and campaign.budget_threshold.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from litestar import Litestar
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from standardwebhooks import WebhookVerificationError

from promo.auth.roles import Role
from promo.campaigns.models import Campaign
from promo.codes import generation
from promo.codes.batches import create_batch
from promo.db.engine import create_sessionmaker
from promo.events.models import Event
from promo.ids import Kind, decode, encode
from promo.webhooks.delivery import RETRY_DELAYS, WINDOW
from tests.support.api import (
    cart,
    create_affiliate,
    create_campaign,
    create_code,
    item,
    redeem,
    rollback,
    run_payouts,
    sell,
)
from tests.support.clock import FrozenClock
from tests.support.factories import bearer
from tests.support.receiver import Receiver, running_receiver

ALL_EVENTS = [
    "redemption.created",
    "redemption.refunded",
    "redemption.rolled_back",
    "payout.created",
    "code_batch.completed",
    "code_batch.failed",
    "commission.available",
    "campaign.budget_threshold",
]
# What a marketer may subscribe to (promo.webhooks.access): not the money events.
MARKETING_EVENTS = [e for e in ALL_EVENTS if e not in {"payout.created", "commission.available"}]
EMAIL = "ana.webhook@example.com"
CUSTOMER_ID = "cus_webhook_42"
Client = httpx.AsyncClient


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as receiver:
        yield receiver


@pytest.fixture
def accountant(keys: dict[Role, str]) -> dict[str, str]:
    return bearer(keys[Role.ACCOUNTANT])


@pytest.fixture
def admin(keys: dict[Role, str]) -> dict[str, str]:
    return bearer(keys[Role.ADMIN])


async def subscribe(
    client: Client, headers: dict[str, str], url: str, events: list[str] | None = None
) -> dict[str, Any]:
    response = await client.post(
        "/v1/webhooks",
        json={"url": url, "events": events or MARKETING_EVENTS, "description": "test receiver"},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def run_jobs(app: Litestar, clock: FrozenClock, seconds: float = 61) -> None:
    """``seconds`` on (a minute: the scans recur every minute, the fan-out every
    second), every job that is due: the fan-out, deliveries, scans."""
    clock.advance(seconds=seconds)
    worker = app.state.jobs.worker
    await worker.queue_recurring()
    await worker.run_due()


async def attempts(client: Client, marketer: dict[str, str], webhook_id: str) -> list[Any]:
    response = await client.get(
        f"/v1/webhooks/{webhook_id}/deliveries", params={"limit": 500}, headers=marketer
    )
    assert response.status_code == 200, response.text
    items: list[Any] = response.json()["items"]
    return items


async def event_ids(db: AsyncSession, type_: str | None = None) -> list[str]:
    query = select(Event.id).order_by(Event.id)
    if type_ is not None:
        query = query.where(Event.type == type_)
    return [encode(Kind.EVENT, i) for i in await db.scalars(query)]


async def fail_a_batch(connection: AsyncConnection, clock: FrozenClock) -> None:
    """A batch whose campaign is archived before it runs: code_batch.failed."""
    async with create_sessionmaker(connection)() as session, session.begin():
        campaign = Campaign(
            name="Archived",
            status="active",
            currency="EUR",
            starts_at=clock() - timedelta(days=1),
            discount_type="fixed_amount",
            amount_off=100,
            rules={},
            created_at=clock(),
            updated_at=clock(),
        )
        session.add(campaign)
        await session.flush()
        batch = await create_batch(
            session,
            campaign,
            pattern="WH-##########",
            charset="safe",
            count=5_000,
            max_redemptions_per_code=1,
            affiliate_id=None,
            max_guess_ratio=1e-4,
            now=clock(),
        )
        await session.execute(
            update(Campaign).where(Campaign.id == campaign.id).values(status="archived")
        )
    ended = await generation.run_batch(connection, batch.id, clock=clock)
    assert ended is not None
    assert ended.status == "failed"


async def test_every_event_reaches_the_receiver_once_signed_and_without_customer_data(
    app: Litestar,
    client: Client,
    connection: AsyncConnection,
    db: AsyncSession,
    clock: FrozenClock,
    marketer: dict[str, str],
    checkout: dict[str, str],
    accountant: dict[str, str],
    admin: dict[str, str],
    receiver: Receiver,
) -> None:
    hook = await subscribe(client, admin, receiver.url, ALL_EVENTS)
    secret = hook["secret"]
    assert secret.startswith("whsec_")
    await run_jobs(app, clock)  # the scans' first look
    affiliate = await create_affiliate(client, marketer, "Anna Hooks", holding_days=30)
    campaign = await create_campaign(
        client, marketer, limits={"budget": 3600}, commission={"percent": 10, "fixed": 0}
    )
    await create_code(client, marketer, campaign["id"], "HOOK20", affiliate_id=affiliate["id"])
    body = {"customer_id": CUSTOMER_ID, "customer_email": EMAIL}
    first, second, _ = [await sell(client, checkout, "HOOK20", 5000, **body) for _ in range(3)]
    assert first["customer_ref"]
    await run_jobs(app, clock)  # 3000 of 3600: 83% of the budget
    assert (await rollback(client, checkout, first["id"], amount=1000)).status_code == 200
    assert (await rollback(client, checkout, second["id"])).status_code == 200
    batch = await client.post(
        f"/v1/campaigns/{campaign['id']}/code-batches",
        json={"count": 10, "pattern": "HK-########"},
        headers=marketer,
    )
    assert batch.status_code == 201, batch.text
    await fail_a_batch(connection, clock)
    # The retention purge (a recurring job too) deletes delivered events older
    # than 30 days: the events so far are counted before the clock moves past.
    before = set(await event_ids(db))
    clock.advance(days=31)
    await run_jobs(app, clock)  # the commissions became available
    assert (await run_payouts(client, accountant, clock())).status_code == 201
    await run_jobs(app, clock)

    stored = before | set(await event_ids(db))
    assert sorted(receiver.ids()) == sorted(stored), "each event once, nothing else"
    assert {r.event["type"] for r in receiver.received} == set(ALL_EVENTS)
    for received in receiver.received:
        event = received.verified(secret)
        assert event["id"] == received.id
        assert EMAIL.encode() not in received.body
        assert CUSTOMER_ID.encode() not in received.body
        assert b"ana.webhook" not in received.body
    # Payloads are the API's shapes.
    [created] = [
        r.event
        for r in receiver.of_type("redemption.created")
        if r.event["data"]["id"] == first["id"]
    ]
    assert created["data"] == {**first, "status": "active", "refunded_amount": 0}
    [refunded] = [r.event["data"] for r in receiver.of_type("redemption.refunded")]
    assert refunded["refunded_amount"] == 1000
    assert refunded["status"] == "partially_refunded"
    [rolled_back] = [r.event["data"] for r in receiver.of_type("redemption.rolled_back")]
    assert rolled_back["id"] == second["id"]
    assert rolled_back["status"] == "rolled_back"
    [threshold] = [r.event["data"] for r in receiver.of_type("campaign.budget_threshold")]
    assert threshold["threshold"] == 80
    assert threshold["campaign"]["id"] == campaign["id"]
    [done] = [r.event["data"] for r in receiver.of_type("code_batch.completed")]
    assert (done["status"], done["generated"]) == ("done", 10)
    [failed] = [r.event["data"] for r in receiver.of_type("code_batch.failed")]
    assert failed["error"] == "the campaign was archived while generating"
    available = [r.event["data"] for r in receiver.of_type("commission.available")]
    # Three redemptions (after 30 days), a refund and a reversal (at once).
    assert sorted(e["kind"] for e in available) == [
        "redemption",
        "redemption",
        "redemption",
        "refund",
        "reversal",
    ]
    assert all(e["status"] == "approved" for e in available)
    [payout] = [r.event["data"] for r in receiver.of_type("payout.created")]
    assert payout["affiliate_id"] == affiliate["id"]
    # Every attempt logged, delivered at the first try (the log of the events
    # still kept: the purge took the older ones with their attempts).
    logged = await attempts(client, marketer, hook["id"])
    kept = set(await event_ids(db))
    assert len(logged) == len(kept)
    assert {a["event_id"] for a in logged} == kept
    assert kept < stored
    assert {(a["attempt"], a["status_code"], a["outcome"]) for a in logged} == {
        (1, 200, "delivered")
    }
    assert all(a["response"] == '{"ok": true}' for a in logged)


async def test_a_failing_receiver_is_retried_for_three_days_then_disabled(
    app: Litestar,
    client: Client,
    clock: FrozenClock,
    marketer: dict[str, str],
    checkout: dict[str, str],
    receiver: Receiver,
) -> None:
    receiver.status, receiver.answer = 500, b"receiver is down " * 100
    hook = await subscribe(client, marketer, receiver.url, ["redemption.created"])
    campaign = await create_campaign(client, marketer)
    await create_code(client, marketer, campaign["id"], "RETRY20")
    await sell(client, checkout, "RETRY20", 5000)
    await run_jobs(app, clock, seconds=1)
    first_at = clock()
    while True:
        logged = await attempts(client, marketer, hook["id"])
        due = logged[-1]["next_attempt_at"]
        if due is None:
            break
        clock.set(httpx_instant(due) - timedelta(seconds=1))
        await run_jobs(app, clock, seconds=1)
    times = [httpx_instant(a["started_at"]) for a in logged]
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert gaps[: len(RETRY_DELAYS)] == list(RETRY_DELAYS)
    assert all(gap <= RETRY_DELAYS[-1] for gap in gaps)
    assert times[-1] - times[0] == WINDOW, "the last attempt closes the three days"
    assert len(logged) == len(receiver.received) == 13
    assert len(set(receiver.ids())) == 1, "one event, tried again and again"
    assert [a["outcome"] for a in logged] == ["retrying"] * 12 + ["failed"]
    assert {(a["status_code"], a["error"]) for a in logged} == {(500, "HTTP 500")}
    assert all(len(a["response"]) == 1000 for a in logged), "the start of the answer"
    assert all(a["latency_ms"] >= 0 for a in logged)
    assert logged[0]["started_at"] == first_at.isoformat().replace("+00:00", "Z")

    shown = (await client.get(f"/v1/webhooks/{hook['id']}", headers=marketer)).json()
    assert shown["status"] == "disabled"
    assert "every delivery failed for 3 days" in shown["disabled_reason"]
    assert "secret" not in shown
    # Nothing is sent to it any more.
    receiver.status = 200
    await sell(client, checkout, "RETRY20", 5000)
    clock.advance(hours=1)
    await run_jobs(app, clock)
    assert len(receiver.received) == 13
    # Enabled again, it gets what happens next (and earlier events by redelivery).
    enabled = await client.patch(
        f"/v1/webhooks/{hook['id']}", json={"active": True}, headers=marketer
    )
    assert enabled.json()["status"] == "active"
    assert enabled.json()["failing_since"] is None
    await sell(client, checkout, "RETRY20", 5000)
    await run_jobs(app, clock)
    assert len(receiver.received) == 14


def httpx_instant(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def test_a_receiver_back_after_a_failure_gets_the_event_and_stays_active(
    app: Litestar,
    client: Client,
    clock: FrozenClock,
    marketer: dict[str, str],
    checkout: dict[str, str],
    receiver: Receiver,
) -> None:
    receiver.status = 503
    hook = await subscribe(client, marketer, receiver.url, ["redemption.created"])
    campaign = await create_campaign(client, marketer)
    await create_code(client, marketer, campaign["id"], "BACK20")
    await sell(client, checkout, "BACK20", 5000)
    await run_jobs(app, clock, seconds=1)
    shown = (await client.get(f"/v1/webhooks/{hook['id']}", headers=marketer)).json()
    assert shown["failing_since"] is not None
    receiver.status = 204
    await run_jobs(app, clock, seconds=5)
    logged = await attempts(client, marketer, hook["id"])
    assert [(a["status_code"], a["outcome"]) for a in logged] == [
        (503, "retrying"),
        (204, "delivered"),
    ]
    assert logged[-1]["delivery_status"] == "delivered"
    assert len(set(receiver.ids())) == 1
    shown = (await client.get(f"/v1/webhooks/{hook['id']}", headers=marketer)).json()
    assert (shown["status"], shown["failing_since"]) == ("active", None)


async def test_a_refused_redemption_or_rollback_writes_no_event(
    app: Litestar,
    client: Client,
    db: AsyncSession,
    clock: FrozenClock,
    marketer: dict[str, str],
    checkout: dict[str, str],
    receiver: Receiver,
) -> None:
    await subscribe(client, marketer, receiver.url)
    campaign = await create_campaign(client, marketer)
    await create_code(client, marketer, campaign["id"], "ONCE20", max_redemptions=1)
    sold = await sell(client, checkout, "ONCE20", 5000)
    refused = await redeem(
        client,
        checkout,
        code="ONCE20",
        order_id="ord-refused",
        cart=cart(item("SKU-1", 1, 5000), shipping=0),
    )
    assert refused.status_code == 409
    assert refused.json()["code"] == "code_exhausted"
    too_much = await rollback(client, checkout, sold["id"], amount=sold["order_amount"] + 1)
    assert too_much.status_code == 409
    assert too_much.json()["code"] == "refund_exceeds_order"
    assert len(await event_ids(db)) == 1
    assert len(await event_ids(db, "redemption.created")) == 1
    await run_jobs(app, clock)
    assert [r.event["data"]["id"] for r in receiver.received] == [sold["id"]]


async def test_a_rotated_secret_signs_beside_the_previous_one_for_the_overlap(
    app: Litestar,
    client: Client,
    clock: FrozenClock,
    marketer: dict[str, str],
    checkout: dict[str, str],
    receiver: Receiver,
) -> None:
    hook = await subscribe(client, marketer, receiver.url, ["redemption.created"])
    old = hook["secret"]
    rotated = await client.post(f"/v1/webhooks/{hook['id']}/rotate-secret", headers=marketer)
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()["secret"]
    assert new != old
    assert rotated.json()["previous_secret_expires_at"] is not None
    campaign = await create_campaign(client, marketer)
    await create_code(client, marketer, campaign["id"], "ROTATE20")
    await sell(client, checkout, "ROTATE20", 5000)
    await run_jobs(app, clock)
    [during] = receiver.received
    during.verified(old)
    during.verified(new)
    assert len(during.headers["webhook-signature"].split(" ")) == 2
    clock.advance(hours=25)
    shown = (await client.get(f"/v1/webhooks/{hook['id']}", headers=marketer)).json()
    assert shown["previous_secret_expires_at"] is None
    await sell(client, checkout, "ROTATE20", 5000)
    await run_jobs(app, clock)
    after = receiver.received[1]
    after.verified(new)
    with pytest.raises(WebhookVerificationError):
        after.verified(old)
    at_once = await client.post(
        f"/v1/webhooks/{hook['id']}/rotate-secret",
        json={"keep_previous_hours": 0},
        headers=marketer,
    )
    assert at_once.json()["previous_secret_expires_at"] is None
    await sell(client, checkout, "ROTATE20", 5000)
    await run_jobs(app, clock)
    last = receiver.received[2]
    last.verified(at_once.json()["secret"])
    with pytest.raises(WebhookVerificationError):
        last.verified(new)


async def test_redelivery_of_one_event_or_a_period(
    app: Litestar,
    client: Client,
    db: AsyncSession,
    clock: FrozenClock,
    marketer: dict[str, str],
    checkout: dict[str, str],
    receiver: Receiver,
) -> None:
    hook = await subscribe(client, marketer, receiver.url, ["redemption.created"])
    campaign = await create_campaign(client, marketer)
    await create_code(client, marketer, campaign["id"], "AGAIN20")
    start = clock()
    for _ in range(3):
        await sell(client, checkout, "AGAIN20", 5000)
        clock.advance(minutes=10)
    await run_jobs(app, clock)
    ids = await event_ids(db)
    assert sorted(receiver.ids()) == sorted(ids)
    path = f"/v1/webhooks/{hook['id']}/redeliver"
    one = await client.post(path, json={"event_id": ids[1]}, headers=marketer)
    assert one.status_code == 202, one.text
    assert one.json() == {"deliveries": 1}
    period = {"from": (start + timedelta(minutes=5)).isoformat(), "to": clock().isoformat()}
    some = await client.post(path, json=period, headers=marketer)
    assert some.json() == {"deliveries": 2}
    await run_jobs(app, clock)
    assert receiver.ids() == [*ids, ids[1], ids[1], ids[2]]
    for received in receiver.received:
        received.verified(hook["secret"])
    manual = [a for a in await attempts(client, marketer, hook["id"]) if a["manual"]]
    assert [a["event_id"] for a in manual] == [ids[1], ids[1], ids[2]]
    of_one = await client.get(
        f"/v1/webhooks/{hook['id']}/deliveries", params={"event_id": ids[1]}, headers=marketer
    )
    assert len(of_one.json()["items"]) == 3


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        ({}, 422, "invalid_field", "event_id"),
        ({"event_id": "evt_x", "from": "2026-07-01T00:00:00Z"}, 422, "invalid_field", "event_id"),
        ({"from": "2026-07-01T00:00:00Z"}, 422, "invalid_field", "to"),
        ({"from": "2026-07-01T00:00:00Z", "to": "2026-06-01T00:00:00Z"}, 422, None, "to"),
        ({"from": "yesterday", "to": "2026-06-01T00:00:00Z"}, 422, None, "from"),
        ({"event_id": "evt_000000000000"}, 404, "event_not_found", None),
        ({"event_id": "nonsense"}, 404, "event_not_found", None),
        ({"event_ids": []}, 422, None, "event_ids"),
    ],
)
async def test_a_bad_redelivery_is_refused_naming_the_field(
    client: Client,
    marketer: dict[str, str],
    body: dict[str, Any],
    status: int,
    code: str | None,
    field: str | None,
) -> None:
    hook = await subscribe(client, marketer, "http://127.0.0.1:9/hooks")
    response = await client.post(
        f"/v1/webhooks/{hook['id']}/redeliver", json=body, headers=marketer
    )
    assert response.status_code == status, response.text
    problem = response.json()
    if code is not None:
        assert problem["code"] == code
    if field is not None:
        assert (
            field in {e["field"] for e in problem.get("errors", [])} or field in problem["detail"]
        )


async def test_redelivery_needs_an_active_subscription_and_a_wanted_event(
    app: Litestar,
    client: Client,
    db: AsyncSession,
    clock: FrozenClock,
    marketer: dict[str, str],
    checkout: dict[str, str],
    receiver: Receiver,
) -> None:
    hook = await subscribe(client, marketer, receiver.url, ["code_batch.completed"])
    campaign = await create_campaign(client, marketer)
    await create_code(client, marketer, campaign["id"], "WANT20")
    await sell(client, checkout, "WANT20", 5000)
    [event_id] = await event_ids(db)
    path = f"/v1/webhooks/{hook['id']}/redeliver"
    unwanted = await client.post(path, json={"event_id": event_id}, headers=marketer)
    assert (unwanted.status_code, unwanted.json()["code"]) == (409, "event_not_subscribed")
    off = await client.patch(f"/v1/webhooks/{hook['id']}", json={"active": False}, headers=marketer)
    assert off.json()["status"] == "disabled"
    assert off.json()["disabled_reason"].startswith("disabled by a marketer key (key_")
    disabled = await client.post(path, json={"event_id": event_id}, headers=marketer)
    assert (disabled.status_code, disabled.json()["code"]) == (409, "webhook_disabled")


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("ftp://hooks.example.com/x", "http or https"),
        ("hooks.example.com/x", "http or https"),
        # The tests allow 127.0.0.1 only (PROMO_WEBHOOK_ALLOWED_HOSTS).
        ("http://10.1.2.3/hook", "not an allowed address"),
        ("http://169.254.169.254/latest/meta-data", "not an allowed address"),
        ("http://[::1]:8080/hook", "not an allowed address"),
        ("http://localhost:8080/hook", "not an allowed host"),
        ("https://hooks.example.com/hook", "not an allowed host"),
        ("https://user:password@hooks.example.com/x", "credentials"),
        ("https://hooks.example.com/x#part", "fragment"),
        ("https://hooks.example.com:99999/x", "not a URL"),
        ("https:///x", "host"),
        ("https://bad_host!/x", "host name"),
        ("", None),
    ],
)
async def test_a_url_that_is_not_allowed_is_refused_naming_it(
    client: Client, marketer: dict[str, str], url: str, why: str | None
) -> None:
    response = await client.post(
        "/v1/webhooks", json={"url": url, "events": ["code_batch.failed"]}, headers=marketer
    )
    assert response.status_code == 422, response.text
    problem = response.json()
    assert [e["field"] for e in problem["errors"]] == ["url"]
    if why is not None:
        assert why in problem["errors"][0]["message"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "https://hooks.example.com", "events": []}, "events"),
        ({"url": "https://hooks.example.com", "events": ["reservation.expired"]}, "events[0]"),
        ({"url": "https://hooks.example.com"}, "events"),
        ({"url": "https://hooks.example.com", "events": ["code_batch.failed"], "x": 1}, "x"),
        (
            {"url": "https://hooks.example.com", "events": ["code_batch.failed"], "description": 5},
            "description",
        ),
    ],
)
async def test_a_bad_subscription_is_refused_naming_the_field(
    client: Client, marketer: dict[str, str], body: dict[str, Any], field: str
) -> None:
    response = await client.post("/v1/webhooks", json=body, headers=marketer)
    assert response.status_code in (400, 422), response.text
    assert field in response.text


async def test_subscriptions_are_listed_and_changed_and_never_show_their_secret(
    client: Client, marketer: dict[str, str], admin: dict[str, str]
) -> None:
    made = await subscribe(client, marketer, "http://127.0.0.1:9/a", ["code_batch.completed"])
    await subscribe(client, admin, "https://127.0.0.1:9/b", ["payout.created"])
    listed = (await client.get("/v1/webhooks", headers=marketer)).json()
    assert [h["url"] for h in listed["items"]][-2:] == [
        "http://127.0.0.1:9/a",
        "https://127.0.0.1:9/b",
    ]
    assert all("secret" not in h for h in listed["items"])
    changed = await client.patch(
        f"/v1/webhooks/{made['id']}",
        json={
            "url": "http://127.0.0.1:9/c",
            "events": ["code_batch.completed", "code_batch.failed", "code_batch.completed"],
            "description": "accounting",
        },
        headers=marketer,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["events"] == ["code_batch.completed", "code_batch.failed"]
    assert changed.json()["url"] == "http://127.0.0.1:9/c"
    assert "secret" not in changed.json()
    bad = await client.patch(
        f"/v1/webhooks/{made['id']}", json={"url": "http://10.0.0.1/"}, headers=marketer
    )
    assert bad.status_code == 422
    missing = await client.get("/v1/webhooks/whk_000000000000", headers=marketer)
    assert (missing.status_code, missing.json()["code"]) == (404, "webhook_not_found")
    assert decode(Kind.WEBHOOK, made["id"]) is not None


async def test_a_subscription_gets_only_the_events_it_asked_for(
    app: Litestar,
    client: Client,
    db: AsyncSession,
    clock: FrozenClock,
    marketer: dict[str, str],
    checkout: dict[str, str],
    receiver: Receiver,
) -> None:
    await subscribe(client, marketer, receiver.url, ["redemption.rolled_back"])
    campaign = await create_campaign(client, marketer)
    await create_code(client, marketer, campaign["id"], "ONLY20")
    sold = await sell(client, checkout, "ONLY20", 5000)
    await rollback(client, checkout, sold["id"])
    await run_jobs(app, clock)
    assert await db.scalar(select(func.count()).select_from(Event)) == 2
    assert [r.event["type"] for r in receiver.received] == ["redemption.rolled_back"]


async def test_each_budget_crossing_is_told_once(
    app: Litestar,
    client: Client,
    db: AsyncSession,
    clock: FrozenClock,
    marketer: dict[str, str],
    checkout: dict[str, str],
    receiver: Receiver,
) -> None:
    await subscribe(client, marketer, receiver.url, ["campaign.budget_threshold"])
    campaign = await create_campaign(client, marketer, limits={"budget": 1200})
    await create_code(client, marketer, campaign["id"], "BUDGET20")
    sold = await sell(client, checkout, "BUDGET20", 5000)  # 1000 of 1200: 83%
    await run_jobs(app, clock)
    await run_jobs(app, clock)  # a second look tells nothing new
    assert [r.event["data"]["threshold"] for r in receiver.received] == [80]
    await rollback(client, checkout, sold["id"])  # back to 0%
    await run_jobs(app, clock)
    await sell(client, checkout, "BUDGET20", 5000)  # 83% again: a new crossing
    await run_jobs(app, clock)
    lowered = await client.patch(
        f"/v1/campaigns/{campaign['id']}", json={"limits": {"budget": 1000}}, headers=marketer
    )
    assert lowered.status_code == 200, lowered.text
    await run_jobs(app, clock)
    await run_jobs(app, clock)
    told = [r.event["data"] for r in receiver.received]
    assert [t["threshold"] for t in told] == [80, 80, 100]
    assert told[-1]["campaign"]["usage"]["budget_used"] == 1000
    assert told[-1]["campaign"]["limits"]["budget"] == 1000
    assert len(await event_ids(db, "campaign.budget_threshold")) == 3


async def test_commission_is_told_available_once_per_entry(
    app: Litestar,
    client: Client,
    db: AsyncSession,
    clock: FrozenClock,
    marketer: dict[str, str],
    checkout: dict[str, str],
    accountant: dict[str, str],
    receiver: Receiver,
) -> None:
    await subscribe(client, accountant, receiver.url, ["commission.available"])
    await run_jobs(app, clock)
    affiliate = await create_affiliate(client, marketer, "Once Only", holding_days=2)
    campaign = await create_campaign(client, marketer, commission={"percent": 10, "fixed": 0})
    await create_code(client, marketer, campaign["id"], "AVAIL10", affiliate_id=affiliate["id"])
    sold = await sell(client, checkout, "AVAIL10", 5000)
    await run_jobs(app, clock)
    assert receiver.received == [], "pending for two days"
    clock.advance(days=2)
    for _ in range(3):  # looks that overlap see the entry again
        await run_jobs(app, clock)
    [told] = [r.event["data"] for r in receiver.received]
    assert (told["redemption_id"], told["status"]) == (sold["id"], "approved")
    assert told["commission"] == sold["commission"]
    assert len(await event_ids(db, "commission.available")) == 1
