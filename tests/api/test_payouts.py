"""POST /v1/payouts: holding periods, thresholds per currency, clawbacks, never twice.

For every affiliate and currency whose approved, unpaid balance at ``as_of``
reaches its threshold (none set: any positive balance), one ``payout`` entry
(negative, equal to the amount) covering exactly those entries, which then
show ``paid``. A negative balance is carried forward, never paid out.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from promo.auth.roles import Role
from tests.support.api import (
    adjust,
    create_affiliate,
    create_campaign,
    create_code,
    instant,
    ledger_items,
    rollback,
    run_payouts,
    sell,
    with_key,
)
from tests.support.clock import FrozenClock
from tests.support.factories import bearer

REPLAYED = "Idempotent-Replayed"


@pytest.fixture
def accountant(keys: dict[Role, str]) -> dict[str, str]:
    return bearer(keys[Role.ACCOUNTANT])


@pytest.fixture
async def campaigns(client: httpx.AsyncClient, marketer: dict[str, str]) -> dict[str, str]:
    """An EUR and a JPY campaign (20% off, 10% commission by default): currency -> id."""
    eur = await create_campaign(client, marketer, ends_at=None, commission={"percent": 10})
    jpy = await create_campaign(
        client,
        marketer,
        name="Yen",
        currency="JPY",
        code_prefix="YEN",
        ends_at=None,
        commission={"percent": 10},
    )
    return {"EUR": eur["id"], "JPY": jpy["id"]}


@pytest.fixture
def affiliate(
    client: httpx.AsyncClient, marketer: dict[str, str], campaigns: dict[str, str]
) -> Any:
    """Make an affiliate with a code per currency: ``<NAME>EUR`` and ``<NAME>JPY``."""

    async def make(name: str, **fields: Any) -> dict[str, Any]:
        created = await create_affiliate(client, marketer, name, **fields)
        for currency, campaign_id in campaigns.items():
            await create_code(
                client, marketer, campaign_id, f"{name}{currency}", affiliate_id=created["id"]
            )
        return created

    return make


async def pay(
    client: httpx.AsyncClient, accountant: dict[str, str], as_of: datetime
) -> list[dict[str, Any]]:
    response = await run_payouts(client, accountant, as_of)
    assert response.status_code == 201, response.text
    payouts: list[dict[str, Any]] = response.json()["payouts"]
    return payouts


def paid(payouts: list[dict[str, Any]]) -> set[tuple[str, str, int]]:
    return {(p["affiliate_id"], p["currency"], p["amount"]) for p in payouts}


def fixed(amount: int) -> dict[str, Any]:
    """An affiliate plan paying exactly ``amount`` per order, whatever its size."""
    return {"percent": 0, "fixed": amount}


# Holding period


async def test_nothing_is_paid_while_the_commission_is_pending(
    client: httpx.AsyncClient,
    checkout: dict[str, str],
    accountant: dict[str, str],
    clock: FrozenClock,
    affiliate: Any,
) -> None:
    anna = await affiliate("ANNA", holding_days=30)
    await sell(client, checkout, "ANNAEUR", 10000)  # 800 commission
    available_at = clock() + timedelta(days=30)
    assert await pay(client, accountant, clock()) == []
    clock.set(available_at - timedelta(microseconds=1))
    assert await pay(client, accountant, clock()) == []
    assert [e["status"] for e in await ledger_items(client, accountant)] == ["pending"]

    clock.set(available_at)
    assert paid(await pay(client, accountant, clock())) == {(anna["id"], "EUR", 800)}


async def test_payout_covers_only_what_was_approved_at_as_of(
    client: httpx.AsyncClient,
    checkout: dict[str, str],
    accountant: dict[str, str],
    clock: FrozenClock,
    affiliate: Any,
) -> None:
    anna = await affiliate("ANNA", holding_days=10)
    day0 = clock()
    await sell(client, checkout, "ANNAEUR", 10000)  # 800, approved on day 10
    clock.advance(days=15)
    await sell(client, checkout, "ANNAEUR", 5000)  # 400, approved on day 25
    clock.advance(days=15)

    assert paid(await pay(client, accountant, day0 + timedelta(days=20))) == {
        (anna["id"], "EUR", 800)
    }
    first, second = (e for e in await ledger_items(client, accountant) if e["kind"] != "payout")
    assert (first["status"], second["status"]) == ("paid", "approved")
    assert second["payout_id"] is None
    assert paid(await pay(client, accountant, clock())) == {(anna["id"], "EUR", 400)}


# Thresholds


async def test_balance_exactly_at_the_threshold_is_paid(
    client: httpx.AsyncClient,
    checkout: dict[str, str],
    accountant: dict[str, str],
    clock: FrozenClock,
    affiliate: Any,
) -> None:
    anna = await affiliate(
        "ANNA", holding_days=0, commission=fixed(2500), payout_thresholds={"EUR": 5000}
    )
    await sell(client, checkout, "ANNAEUR", 10000)
    await sell(client, checkout, "ANNAEUR", 3000)
    assert paid(await pay(client, accountant, clock())) == {(anna["id"], "EUR", 5000)}


async def test_one_cent_below_the_threshold_is_carried_forward_until_it_reaches_it(
    client: httpx.AsyncClient,
    checkout: dict[str, str],
    accountant: dict[str, str],
    clock: FrozenClock,
    affiliate: Any,
) -> None:
    anna = await affiliate(
        "ANNA", holding_days=0, commission=fixed(4999), payout_thresholds={"EUR": 5000}
    )
    await sell(client, checkout, "ANNAEUR", 10000)
    assert await pay(client, accountant, clock()) == []
    (entry,) = await ledger_items(client, accountant)
    assert (entry["commission"], entry["status"], entry["payout_id"]) == (4999, "approved", None)

    clock.advance(days=1)
    response = await adjust(
        client, accountant, affiliate_id=anna["id"], currency="EUR", commission=1, note="+1"
    )
    assert response.status_code == 201, response.text
    (payout,) = await pay(client, accountant, clock())
    assert (payout["affiliate_id"], payout["currency"], payout["amount"]) == (
        anna["id"],
        "EUR",
        5000,
    )
    covered = [e for e in await ledger_items(client, accountant) if e["kind"] != "payout"]
    assert {(e["kind"], e["payout_id"]) for e in covered} == {
        ("redemption", payout["id"]),
        ("adjustment", payout["id"]),
    }


async def test_a_currency_without_threshold_is_paid_at_any_positive_balance(
    client: httpx.AsyncClient,
    checkout: dict[str, str],
    accountant: dict[str, str],
    clock: FrozenClock,
    affiliate: Any,
) -> None:
    anna = await affiliate(
        "ANNA", holding_days=0, commission=fixed(1), payout_thresholds={"EUR": 5000}
    )
    await sell(client, checkout, "ANNAEUR", 10000)  # 1 cent: below the EUR threshold
    await sell(client, checkout, "ANNAJPY", 10000, currency="JPY")  # 1 yen: no JPY threshold
    assert paid(await pay(client, accountant, clock())) == {(anna["id"], "JPY", 1)}


async def test_two_currencies_are_paid_separately(
    client: httpx.AsyncClient,
    checkout: dict[str, str],
    accountant: dict[str, str],
    clock: FrozenClock,
    affiliate: Any,
) -> None:
    anna = await affiliate("ANNA", holding_days=0)
    bob = await affiliate("BOB", holding_days=0, payout_thresholds={"EUR": 1000, "JPY": 500})
    await sell(client, checkout, "ANNAEUR", 10000)  # 800
    await sell(client, checkout, "ANNAJPY", 12000, currency="JPY")  # 960
    await sell(client, checkout, "BOBEUR", 10000)  # 800: below Bob's 1000 EUR threshold
    await sell(client, checkout, "BOBJPY", 12000, currency="JPY")  # 960: above his 500 JPY

    payouts = await pay(client, accountant, clock())
    assert paid(payouts) == {
        (anna["id"], "EUR", 800),
        (anna["id"], "JPY", 960),
        (bob["id"], "JPY", 960),
    }
    payout_of = {(p["affiliate_id"], p["currency"]): p["id"] for p in payouts}
    for entry in await ledger_items(client, accountant):
        expected = payout_of.get((entry["affiliate_id"], entry["currency"]))
        assert entry["payout_id"] == expected, entry


async def test_the_preview_shows_what_the_run_then_pays_and_writes_nothing(
    client: httpx.AsyncClient,
    checkout: dict[str, str],
    accountant: dict[str, str],
    clock: FrozenClock,
    affiliate: Any,
) -> None:
    anna = await affiliate("ANNA", holding_days=0)
    bob = await affiliate("BOB", holding_days=0, payout_thresholds={"EUR": 1000})
    await sell(client, checkout, "ANNAEUR", 10000)  # 800
    await sell(client, checkout, "ANNAEUR", 5000)  # 400
    await sell(client, checkout, "ANNAJPY", 12000, currency="JPY")  # 960
    await sell(client, checkout, "BOBEUR", 10000)  # 800: below Bob's threshold
    await sell(client, checkout, "BOBJPY", 12000, currency="JPY")  # 960
    before = await ledger_items(client, accountant)
    body = {"as_of": instant(clock())}

    response = await client.post("/v1/payouts/preview", json=body, headers=accountant)
    assert response.status_code == 200, response.text
    preview = response.json()
    assert preview["payouts"] == [
        {"affiliate_id": anna["id"], "currency": "EUR", "amount": 1200, "entries": 2},
        {"affiliate_id": anna["id"], "currency": "JPY", "amount": 960, "entries": 1},
        {"affiliate_id": bob["id"], "currency": "JPY", "amount": 960, "entries": 1},
    ]
    assert preview["totals"] == [
        {"currency": "EUR", "payouts": 1, "amount": 1200},
        {"currency": "JPY", "payouts": 2, "amount": 1920},
    ]
    assert await ledger_items(client, accountant) == before
    listed = await client.get("/v1/payouts", headers=accountant)
    assert listed.json()["items"] == []

    planned = {(p["affiliate_id"], p["currency"], p["amount"]) for p in preview["payouts"]}
    assert paid(await pay(client, accountant, clock())) == planned
    again = await client.post("/v1/payouts/preview", json=body, headers=accountant)
    assert again.json()["payouts"] == []
    assert again.json()["totals"] == []


async def test_a_preview_as_of_the_future_is_refused_naming_as_of(
    client: httpx.AsyncClient, accountant: dict[str, str], clock: FrozenClock
) -> None:
    body = {"as_of": instant(clock() + timedelta(days=1))}
    response = await client.post("/v1/payouts/preview", json=body, headers=accountant)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "as_of"


# Never twice


async def test_running_payouts_again_for_the_same_as_of_pays_nothing(
    client: httpx.AsyncClient,
    checkout: dict[str, str],
    accountant: dict[str, str],
    clock: FrozenClock,
    affiliate: Any,
) -> None:
    anna = await affiliate("ANNA", holding_days=0)
    await sell(client, checkout, "ANNAEUR", 10000)
    await sell(client, checkout, "ANNAJPY", 12000, currency="JPY")
    as_of = clock()
    assert len(await pay(client, accountant, as_of)) == 2
    assert await pay(client, accountant, as_of) == []
    clock.advance(hours=1)
    assert await pay(client, accountant, clock()) == []

    # Later runs pay only what became approved since.
    await sell(client, checkout, "ANNAEUR", 5000)
    assert paid(await pay(client, accountant, clock())) == {(anna["id"], "EUR", 400)}
    payouts = [e for e in await ledger_items(client, accountant) if e["kind"] == "payout"]
    assert sorted((e["currency"], e["commission"]) for e in payouts) == [
        ("EUR", -800),
        ("EUR", -400),
        ("JPY", -960),
    ]


async def test_payout_replayed_with_the_same_key_returns_the_same_body(
    client: httpx.AsyncClient,
    checkout: dict[str, str],
    accountant: dict[str, str],
    clock: FrozenClock,
    affiliate: Any,
) -> None:
    await affiliate("ANNA", holding_days=0)
    await sell(client, checkout, "ANNAEUR", 10000)
    as_of = clock()
    first = await run_payouts(client, accountant, as_of, key="payout-run-1")
    assert first.status_code == 201, first.text
    assert len(first.json()["payouts"]) == 1
    clock.advance(minutes=5)
    again = await run_payouts(client, accountant, as_of, key="payout-run-1")
    assert again.status_code == 201
    assert again.json() == first.json()
    assert again.headers.get(REPLAYED) == "true"

    other = await run_payouts(client, accountant, clock(), key="payout-run-1")
    assert other.status_code == 422, other.text
    assert other.json()["code"] == "idempotency_key_reused"
    kinds = [e["kind"] for e in await ledger_items(client, accountant)]
    assert kinds == ["redemption", "payout"]


async def test_payout_without_idempotency_key_is_400(
    client: httpx.AsyncClient, accountant: dict[str, str]
) -> None:
    response = await client.post(
        "/v1/payouts", json={"as_of": "2026-07-01T12:00:00Z"}, headers=accountant
    )
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "idempotency_key_required"


@pytest.mark.parametrize("body", [{}, {"as_of": "2026-07-01T12:00:00"}, {"as_of": "soon"}])
async def test_payout_needs_an_instant_with_offset(
    client: httpx.AsyncClient, accountant: dict[str, str], body: dict[str, Any]
) -> None:
    response = await client.post("/v1/payouts", json=body, headers=with_key(accountant))
    assert response.status_code == 422, response.text
    assert [error["field"] for error in response.json()["errors"]] == ["as_of"]


# Clawbacks and negative balances


async def test_clawback_after_a_payout_reduces_the_next_payout(
    client: httpx.AsyncClient,
    checkout: dict[str, str],
    accountant: dict[str, str],
    clock: FrozenClock,
    affiliate: Any,
) -> None:
    anna = await affiliate("ANNA", holding_days=0)
    first_sale = await sell(client, checkout, "ANNAEUR", 10000)  # 800
    (first,) = await pay(client, accountant, clock())
    assert first["amount"] == 800

    clock.advance(days=1)
    assert (await rollback(client, checkout, first_sale["id"])).status_code == 200
    await sell(client, checkout, "ANNAEUR", 20000)  # 1600
    (second,) = await pay(client, accountant, clock())
    assert (second["affiliate_id"], second["amount"]) == (anna["id"], 1600 - 800)

    entries = await ledger_items(client, accountant)
    assert [(e["kind"], e["commission"], e["payout_id"]) for e in entries] == [
        ("redemption", 800, first["id"]),
        ("payout", -800, first["id"]),
        ("reversal", -800, second["id"]),
        ("redemption", 1600, second["id"]),
        ("payout", -800, second["id"]),
    ]
    assert sum(e["commission"] for e in entries) == 0


async def test_a_negative_balance_is_carried_forward_and_never_paid(
    client: httpx.AsyncClient,
    checkout: dict[str, str],
    accountant: dict[str, str],
    clock: FrozenClock,
    affiliate: Any,
) -> None:
    anna = await affiliate("ANNA", holding_days=0)
    sale = await sell(client, checkout, "ANNAEUR", 10000)  # 800
    assert len(await pay(client, accountant, clock())) == 1
    clock.advance(days=1)
    assert (await rollback(client, checkout, sale["id"])).status_code == 200  # -800
    assert await pay(client, accountant, clock()) == []

    await sell(client, checkout, "ANNAEUR", 5000)  # 400: -400 in all
    assert await pay(client, accountant, clock()) == []
    entries = await ledger_items(client, accountant)
    assert sum(e["commission"] for e in entries) == -400
    assert [e["kind"] for e in entries].count("payout") == 1

    await sell(client, checkout, "ANNAEUR", 10000)  # 800: +400 in all
    assert paid(await pay(client, accountant, clock())) == {(anna["id"], "EUR", 400)}
    assert sum(e["commission"] for e in await ledger_items(client, accountant)) == 0


async def test_a_zero_balance_is_not_paid(
    client: httpx.AsyncClient,
    checkout: dict[str, str],
    accountant: dict[str, str],
    clock: FrozenClock,
    affiliate: Any,
) -> None:
    await affiliate("ANNA", holding_days=0)
    sale = await sell(client, checkout, "ANNAEUR", 10000)
    assert (await rollback(client, checkout, sale["id"])).status_code == 200
    assert await pay(client, accountant, clock()) == []


# Who gets paid, and what the ledger shows


async def test_a_deactivated_affiliates_matured_commission_is_still_paid(
    client: httpx.AsyncClient,
    checkout: dict[str, str],
    marketer: dict[str, str],
    accountant: dict[str, str],
    clock: FrozenClock,
    affiliate: Any,
) -> None:
    anna = await affiliate("ANNA", holding_days=30)
    await sell(client, checkout, "ANNAEUR", 10000)
    response = await client.patch(
        f"/v1/affiliates/{anna['id']}", json={"active": False}, headers=marketer
    )
    assert response.status_code == 200, response.text
    clock.advance(days=30)
    assert paid(await pay(client, accountant, clock())) == {(anna["id"], "EUR", 800)}


async def test_redemptions_without_affiliate_are_never_paid(
    client: httpx.AsyncClient,
    checkout: dict[str, str],
    marketer: dict[str, str],
    accountant: dict[str, str],
    clock: FrozenClock,
    campaigns: dict[str, str],
) -> None:
    await create_code(client, marketer, campaigns["EUR"], "SHOP20")
    await sell(client, checkout, "SHOP20", 10000)
    assert await pay(client, accountant, clock()) == []
    (entry,) = await ledger_items(client, accountant)
    assert (entry["affiliate_id"], entry["commission"], entry["payout_id"]) == (None, 0, None)


async def test_payout_entry_is_negative_and_the_covered_entries_show_paid(
    client: httpx.AsyncClient,
    checkout: dict[str, str],
    accountant: dict[str, str],
    clock: FrozenClock,
    affiliate: Any,
) -> None:
    anna = await affiliate("ANNA", holding_days=0)
    sale = await sell(client, checkout, "ANNAEUR", 10000)  # 800
    assert (await rollback(client, checkout, sale["id"], amount=2000)).status_code == 200  # -200
    await sell(client, checkout, "ANNAEUR", 5000)  # 400
    as_of = clock()
    clock.advance(minutes=1)
    response = await run_payouts(client, accountant, as_of)
    assert response.status_code == 201, response.text
    result = response.json()
    assert datetime.fromisoformat(result["as_of"]) == as_of
    (payout,) = result["payouts"]
    assert payout["id"].startswith("pay_")
    assert (payout["affiliate_id"], payout["currency"], payout["amount"]) == (
        anna["id"],
        "EUR",
        1000,
    )
    assert datetime.fromisoformat(payout["as_of"]) == as_of
    assert datetime.fromisoformat(payout["created_at"]) == clock()
    await sell(client, checkout, "ANNAEUR", 5000)  # after the run: not covered

    *covered, payout_entry, later = await ledger_items(client, accountant)
    assert [(e["kind"], e["status"], e["payout_id"]) for e in covered] == [
        ("redemption", "paid", payout["id"]),
        ("refund", "paid", payout["id"]),
        ("redemption", "paid", payout["id"]),
    ]
    assert sum(e["commission"] for e in covered) == payout["amount"]
    assert payout_entry["kind"] == "payout"
    assert payout_entry["commission"] == -payout["amount"]
    assert (payout_entry["payout_id"], payout_entry["status"]) == (payout["id"], "paid")
    assert (payout_entry["affiliate_id"], payout_entry["currency"]) == (anna["id"], "EUR")
    assert (payout_entry["redemption_id"], payout_entry["order_amount"]) == (None, 0)
    assert (later["kind"], later["status"], later["payout_id"]) == ("redemption", "approved", None)


async def test_a_payout_as_of_a_future_instant_pays_nothing_still_pending(
    client: httpx.AsyncClient,
    checkout: dict[str, str],
    accountant: dict[str, str],
    clock: FrozenClock,
    affiliate: Any,
) -> None:
    await affiliate("ANNA", holding_days=30)
    await sell(client, checkout, "ANNAEUR", 10000)
    response = await run_payouts(client, accountant, clock() + timedelta(days=31))
    assert response.status_code in {201, 422}, response.text
    if response.status_code == 201:
        assert response.json()["payouts"] == []
    (entry,) = await ledger_items(client, accountant)
    assert (entry["status"], entry["payout_id"]) == ("pending", None)


# Reading payouts back


async def test_payouts_are_listed_and_each_shows_the_entries_it_covers(
    client: httpx.AsyncClient,
    checkout: dict[str, str],
    accountant: dict[str, str],
    clock: FrozenClock,
    affiliate: Any,
) -> None:
    anna = await affiliate("ANNA", holding_days=0)
    bob = await affiliate("BOB", holding_days=0)
    await sell(client, checkout, "ANNAEUR", 10000)  # 800
    await sell(client, checkout, "ANNAEUR", 5000)  # 400
    await sell(client, checkout, "ANNAJPY", 12000, currency="JPY")  # 960
    await sell(client, checkout, "BOBEUR", 10000)  # 800
    made = await pay(client, accountant, clock())

    response = await client.get("/v1/payouts", headers=accountant)
    assert response.status_code == 200, response.text
    listed = response.json()["items"]
    assert [p["id"] for p in listed] == [p["id"] for p in made]
    assert [{k: v for k, v in p.items() if k != "entries"} for p in listed] == made
    entries_of = {(p["affiliate_id"], p["currency"]): p["entries"] for p in listed}
    assert entries_of == {(anna["id"], "EUR"): 2, (anna["id"], "JPY"): 1, (bob["id"], "EUR"): 1}

    ledger = await ledger_items(client, accountant)
    for payout in made:
        response = await client.get(f"/v1/payouts/{payout['id']}", headers=accountant)
        assert response.status_code == 200, response.text
        detail = response.json()
        assert {k: v for k, v in detail.items() if k != "items"} == payout
        expected = [e for e in ledger if e["payout_id"] == payout["id"] and e["kind"] != "payout"]
        assert detail["items"] == expected
        assert sum(e["commission"] for e in detail["items"]) == payout["amount"]


async def test_the_payout_list_pages_and_filters_by_affiliate_and_currency(
    client: httpx.AsyncClient,
    checkout: dict[str, str],
    accountant: dict[str, str],
    clock: FrozenClock,
    affiliate: Any,
) -> None:
    anna = await affiliate("ANNA", holding_days=0)
    await affiliate("BOB", holding_days=0)
    for code, currency in [("ANNAEUR", "EUR"), ("ANNAJPY", "JPY"), ("BOBEUR", "EUR")]:
        await sell(client, checkout, code, 10000, currency=currency)
    made = await pay(client, accountant, clock())
    assert len(made) == 3

    seen: list[str] = []
    params: dict[str, str] = {"limit": "1"}
    while True:
        response = await client.get("/v1/payouts", params=params, headers=accountant)
        assert response.status_code == 200, response.text
        page = response.json()
        seen.extend(p["id"] for p in page["items"])
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    assert seen == [p["id"] for p in made]

    response = await client.get(
        "/v1/payouts", params={"affiliate_id": anna["id"], "currency": "EUR"}, headers=accountant
    )
    assert response.status_code == 200, response.text
    ((only),) = [response.json()["items"]]
    assert [(p["affiliate_id"], p["currency"]) for p in only] == [(anna["id"], "EUR")]


async def test_reading_payouts_is_for_accountants_and_admins(
    client: httpx.AsyncClient, keys: dict[Role, str], accountant: dict[str, str]
) -> None:
    for role in (Role.ACCOUNTANT, Role.ADMIN):
        response = await client.get("/v1/payouts", headers=bearer(keys[role]))
        assert response.status_code == 200, (role, response.text)
    for role in (Role.CHECKOUT, Role.MARKETER, Role.AFFILIATE):
        response = await client.get("/v1/payouts", headers=bearer(keys[role]))
        assert response.status_code == 403, (role, response.text)
    for missing in ("pay_000000000000", "nope"):
        response = await client.get(f"/v1/payouts/{missing}", headers=accountant)
        assert response.status_code == 404, response.text
        assert response.json()["code"] == "payout_not_found"
    response = await client.get("/v1/payouts?currency=euro", headers=accountant)
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == ["currency"]
