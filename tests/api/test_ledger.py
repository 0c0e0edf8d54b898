"""The append-only ledger through the API: entries, status, filters, report, adjustments.

Every redemption appends a ``redemption`` entry (commission 0 without an
affiliate), a partial refund a ``refund`` and a full rollback a ``reversal``
(negative commission). Status is derived: ``pending`` before ``available_at``,
then ``approved``, ``paid`` once a payout covers the entry. The commission
report reconciles to the unit with the entries GET /v1/ledger returns for the
same period. Only accountants (and admins) read the ledger or write to it.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from promo.auth.roles import Role
from promo.ids import Kind, decode, encode
from tests.support.api import (
    adjust,
    create_affiliate,
    create_campaign,
    create_code,
    instant,
    ledger_items,
    rollback,
    run_payouts,
    seed_ledger_scenario,
    sell,
    with_key,
)
from tests.support.clock import FrozenClock
from tests.support.factories import bearer

REPLAYED = "Idempotent-Replayed"


def at(value: str) -> datetime:
    return datetime.fromisoformat(value)


def entry_number(entry: dict[str, Any]) -> int:
    number = decode(Kind.LEDGER_ENTRY, entry["id"])
    assert number is not None
    return number


@pytest.fixture
def accountant(keys: dict[Role, str]) -> dict[str, str]:
    return bearer(keys[Role.ACCOUNTANT])


@pytest.fixture
async def eur(client: httpx.AsyncClient, marketer: dict[str, str]) -> dict[str, Any]:
    """An EUR campaign, 20% off, 10% commission by default, running until archived."""
    return await create_campaign(client, marketer, ends_at=None, commission={"percent": 10})


@pytest.fixture
async def jpy(client: httpx.AsyncClient, marketer: dict[str, str]) -> dict[str, Any]:
    return await create_campaign(
        client,
        marketer,
        name="Yen",
        currency="JPY",
        code_prefix="YEN",
        ends_at=None,
        commission={"percent": 10},
    )


@pytest.fixture
async def anna(
    client: httpx.AsyncClient, marketer: dict[str, str], eur: dict[str, Any], jpy: dict[str, Any]
) -> dict[str, Any]:
    """An affiliate on the campaigns' default plan, 30 holding days; codes ANNA and ANNAYEN."""
    affiliate = await create_affiliate(client, marketer, "Anna", holding_days=30)
    await create_code(client, marketer, eur["id"], "ANNA", affiliate_id=affiliate["id"])
    await create_code(client, marketer, jpy["id"], "ANNAYEN", affiliate_id=affiliate["id"])
    return affiliate


@pytest.fixture
async def bob(
    client: httpx.AsyncClient, marketer: dict[str, str], eur: dict[str, Any], jpy: dict[str, Any]
) -> dict[str, Any]:
    """An affiliate with its own plan (5% + 100), no holding period; codes BOB and BOBYEN."""
    affiliate = await create_affiliate(
        client, marketer, "Bob", holding_days=0, commission={"percent": 5, "fixed": 100}
    )
    await create_code(client, marketer, eur["id"], "BOB", affiliate_id=affiliate["id"])
    await create_code(client, marketer, jpy["id"], "BOBYEN", affiliate_id=affiliate["id"])
    return affiliate


@pytest.fixture
async def shop(client: httpx.AsyncClient, marketer: dict[str, str], eur: dict[str, Any]) -> str:
    """A code of the EUR campaign that belongs to no affiliate."""
    await create_code(client, marketer, eur["id"], "SHOP20")
    return "SHOP20"


async def entries_of(
    client: httpx.AsyncClient, accountant: dict[str, str], redemption: dict[str, Any]
) -> list[dict[str, Any]]:
    return [
        e for e in await ledger_items(client, accountant) if e["redemption_id"] == redemption["id"]
    ]


# Entries appended by redemptions and rollbacks


async def test_each_redemption_appends_a_redemption_entry_with_its_plan_commission(
    client: httpx.AsyncClient,
    checkout: dict[str, str],
    accountant: dict[str, str],
    clock: FrozenClock,
    eur: dict[str, Any],
    anna: dict[str, Any],
    bob: dict[str, Any],
    shop: str,
) -> None:
    sold = {
        "ANNA": await sell(client, checkout, "ANNA", 10000, order_id="ord_anna"),
        "BOB": await sell(client, checkout, "BOB", 10000, order_id="ord_bob"),
        shop: await sell(client, checkout, shop, 10000, order_id="ord_shop"),
    }
    entries = await ledger_items(client, accountant)
    assert len(entries) == 3
    by_code = {e["code"]: e for e in entries}
    # 10000 - 20% = 8000 net: the campaign's 10%; Bob's own 5% + 100; nothing without affiliate.
    expected = {
        "ANNA": (anna["id"], 800, timedelta(days=30)),
        "BOB": (bob["id"], 500, timedelta(0)),
        shop: (None, 0, timedelta(0)),
    }
    for code, (affiliate_id, commission, holding) in expected.items():
        entry = by_code[code]
        assert entry["kind"] == "redemption"
        assert entry["redemption_id"] == sold[code]["id"]
        assert entry["order_id"] == sold[code]["order_id"]
        assert (entry["campaign_id"], entry["affiliate_id"]) == (eur["id"], affiliate_id)
        assert (entry["currency"], entry["order_amount"], entry["discount"]) == ("EUR", 8000, 2000)
        assert entry["commission"] == commission == sold[code]["commission"]
        assert at(entry["created_at"]) == clock()
        assert at(entry["available_at"]) == clock() + holding
        assert (entry["payout_id"], entry["note"]) == (None, None)


async def test_refund_appends_a_negative_refund_and_full_rollback_a_reversal(
    client: httpx.AsyncClient,
    checkout: dict[str, str],
    accountant: dict[str, str],
    clock: FrozenClock,
    anna: dict[str, Any],
) -> None:
    sold = await sell(client, checkout, "ANNA", 10000)  # 8000 net, 2000 off, 800
    clock.advance(hours=1)
    response = await rollback(client, checkout, sold["id"], amount=2000, reason="one item back")
    assert response.status_code == 200, response.text
    clock.advance(hours=1)
    response = await rollback(client, checkout, sold["id"])
    assert response.status_code == 200, response.text

    entries = await entries_of(client, accountant, sold)
    # A quarter of the order refunded: a quarter of the discount and commission back.
    assert [
        (e["kind"], e["order_amount"], e["discount"], e["commission"], e["note"]) for e in entries
    ] == [
        ("redemption", 8000, 2000, 800, None),
        ("refund", -2000, -500, -200, "one item back"),
        ("reversal", -6000, -1500, -600, None),
    ]
    assert {(e["code"], e["order_id"], e["affiliate_id"]) for e in entries} == {
        ("ANNA", sold["order_id"], anna["id"])
    }
    assert sum(e["commission"] for e in entries) == 0
    assert sum(e["order_amount"] for e in entries) == 0
    assert sum(e["discount"] for e in entries) == 0


async def test_rollback_of_a_code_without_affiliate_still_appends_its_discount_back(
    client: httpx.AsyncClient, checkout: dict[str, str], accountant: dict[str, str], shop: str
) -> None:
    sold = await sell(client, checkout, shop, 5000)
    response = await rollback(client, checkout, sold["id"])
    assert response.status_code == 200, response.text
    entries = await entries_of(client, accountant, sold)
    assert [(e["kind"], e["affiliate_id"], e["discount"], e["commission"]) for e in entries] == [
        ("redemption", None, 1000, 0),
        ("reversal", None, -1000, 0),
    ]


# Status: pending, approved, paid


async def test_entry_is_pending_until_available_at_then_approved_then_paid(
    client: httpx.AsyncClient,
    checkout: dict[str, str],
    accountant: dict[str, str],
    clock: FrozenClock,
    anna: dict[str, Any],
) -> None:
    sold = await sell(client, checkout, "ANNA", 10000)

    async def entry() -> dict[str, Any]:
        (found,) = await entries_of(client, accountant, sold)
        return found

    available_at = at((await entry())["available_at"])
    assert available_at == clock() + timedelta(days=30)
    assert (await entry())["status"] == "pending"
    clock.set(available_at - timedelta(microseconds=1))
    assert (await entry())["status"] == "pending"
    clock.set(available_at)
    assert (await entry())["status"] == "approved"
    assert (await entry())["payout_id"] is None

    response = await run_payouts(client, accountant, clock())
    assert response.status_code == 201, response.text
    (payout,) = response.json()["payouts"]
    assert (await entry())["status"] == "paid"
    assert (await entry())["payout_id"] == payout["id"]


async def test_holding_period_is_the_affiliates_at_the_time_of_the_redemption(
    client: httpx.AsyncClient,
    checkout: dict[str, str],
    marketer: dict[str, str],
    accountant: dict[str, str],
    clock: FrozenClock,
    anna: dict[str, Any],
) -> None:
    before = await sell(client, checkout, "ANNA", 10000)
    response = await client.patch(
        f"/v1/affiliates/{anna['id']}", json={"holding_days": 0}, headers=marketer
    )
    assert response.status_code == 200, response.text
    after = await sell(client, checkout, "ANNA", 10000)

    (first,) = await entries_of(client, accountant, before)
    (second,) = await entries_of(client, accountant, after)
    assert (at(first["available_at"]), first["status"]) == (clock() + timedelta(days=30), "pending")
    assert (at(second["available_at"]), second["status"]) == (clock(), "approved")


# Filters and paging


async def test_ledger_filters_on_created_at_affiliate_campaign_and_kind(
    client: httpx.AsyncClient,
    checkout: dict[str, str],
    accountant: dict[str, str],
    clock: FrozenClock,
    eur: dict[str, Any],
    jpy: dict[str, Any],
    anna: dict[str, Any],
    bob: dict[str, Any],
    shop: str,
) -> None:
    day0 = clock()
    anna_sale = await sell(client, checkout, "ANNA", 10000)
    bob_sale = await sell(client, checkout, "BOBYEN", 10000, currency="JPY")
    day1 = clock.advance(days=1)
    await sell(client, checkout, shop, 10000)
    assert (await rollback(client, checkout, anna_sale["id"], amount=1000)).status_code == 200
    day2 = clock.advance(days=1)
    response = await adjust(
        client, accountant, affiliate_id=bob["id"], currency="EUR", commission=300, note="bonus"
    )
    assert response.status_code == 201, response.text
    assert (await rollback(client, checkout, bob_sale["id"])).status_code == 200

    everything = await ledger_items(client, accountant)
    names = ["anna_sale", "bob_sale", "shop_sale", "anna_refund", "bob_bonus", "bob_reversal"]
    assert [e["kind"] for e in everything] == [
        "redemption",
        "redemption",
        "redemption",
        "refund",
        "adjustment",
        "reversal",
    ]
    ids = {e["id"]: name for name, e in zip(names, everything, strict=True)}

    async def selected(**params: str) -> list[str]:
        return [ids[e["id"]] for e in await ledger_items(client, accountant, params)]

    assert await selected(**{"from": instant(day1)}) == names[2:]
    assert await selected(to=instant(day1)) == names[:2]
    assert await selected(**{"from": instant(day1), "to": instant(day2)}) == names[2:4]
    assert await selected(**{"from": instant(day0), "to": instant(day0)}) == []
    assert await selected(affiliate_id=anna["id"]) == ["anna_sale", "anna_refund"]
    assert await selected(affiliate_id=bob["id"]) == ["bob_sale", "bob_bonus", "bob_reversal"]
    assert await selected(campaign_id=eur["id"]) == ["anna_sale", "shop_sale", "anna_refund"]
    assert await selected(campaign_id=jpy["id"]) == ["bob_sale", "bob_reversal"]
    assert await selected(kind="refund") == ["anna_refund"]
    assert await selected(kind="adjustment") == ["bob_bonus"]
    assert await selected(kind="payout") == []
    assert await selected(affiliate_id=bob["id"], kind="reversal") == ["bob_reversal"]
    unknown = encode(Kind.AFFILIATE, 10**9)
    assert await selected(affiliate_id=unknown) == []


async def test_ledger_pages_with_a_cursor_in_id_order(
    client: httpx.AsyncClient,
    checkout: dict[str, str],
    accountant: dict[str, str],
    anna: dict[str, Any],
) -> None:
    for amount in (1000, 2000, 3000, 4000, 5000):
        await sell(client, checkout, "ANNA", amount)
    pages: list[list[dict[str, Any]]] = []
    cursor = None
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        response = await client.get("/v1/ledger", params=params, headers=accountant)
        assert response.status_code == 200, response.text
        pages.append(response.json()["items"])
        cursor = response.json()["next_cursor"]
        if cursor is None:
            break
    assert [len(page) for page in pages] == [2, 2, 1]
    flat = [e for page in pages for e in page]
    assert [e["order_amount"] for e in flat] == [800, 1600, 2400, 3200, 4000]
    numbers = [entry_number(e) for e in flat]
    assert numbers == sorted(numbers)
    assert len(set(numbers)) == 5
    assert flat == await ledger_items(client, accountant)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("kind=bogus", "kind"),
        ("cursor=not-a-cursor", "cursor"),
        ("limit=501", "limit"),
        ("affiliate_id=" + "a" * 65, "affiliate_id"),
        ("from=yesterday", "from"),
        ("to=2026-13-01T00:00:00Z", "to"),
    ],
)
async def test_malformed_ledger_query_is_422_naming_the_parameter(
    client: httpx.AsyncClient, accountant: dict[str, str], query: str, field: str
) -> None:
    response = await client.get(f"/v1/ledger?{query}", headers=accountant)
    assert response.status_code == 422, response.text
    assert [error["field"] for error in response.json()["errors"]] == [field]


async def test_export_in_an_unknown_format_is_422(
    client: httpx.AsyncClient, accountant: dict[str, str]
) -> None:
    response = await client.get("/v1/ledger/export?format=xlsx", headers=accountant)
    assert response.status_code == 422, response.text
    assert [error["field"] for error in response.json()["errors"]] == ["format"]


async def test_malformed_affiliate_or_campaign_filter_is_404(
    client: httpx.AsyncClient, accountant: dict[str, str]
) -> None:
    for query, code in (
        ("affiliate_id=aff_nope", "affiliate_not_found"),
        ("campaign_id=cmp_nope", "campaign_not_found"),
    ):
        response = await client.get(f"/v1/ledger?{query}", headers=accountant)
        assert response.status_code == 404, response.text
        assert response.json()["code"] == code


@pytest.mark.parametrize("path", ["/v1/ledger", "/v1/reports/commissions", "/v1/ledger/export"])
async def test_an_instant_without_offset_is_refused_with_a_4xx(
    client: httpx.AsyncClient, accountant: dict[str, str], path: str
) -> None:
    response = await client.get(f"{path}?from=2026-07-01T00:00:00", headers=accountant)
    assert 400 <= response.status_code < 500, response.text


# The commission report


def totals_from_ledger(
    entries: list[dict[str, Any]],
) -> dict[tuple[str | None, str], dict[str, int]]:
    """The report's figures recomputed from ledger entries and their derived status."""
    totals: dict[tuple[str | None, str], dict[str, int]] = defaultdict(
        lambda: dict.fromkeys(
            (
                "orders",
                "revenue",
                "discount",
                "commission_pending",
                "commission_approved",
                "commission_paid",
                "balance",
            ),
            0,
        )
    )
    for e in entries:
        row = totals[(e["affiliate_id"], e["currency"])]
        row["orders"] += e["kind"] == "redemption"
        row["revenue"] += e["order_amount"]
        row["discount"] += e["discount"]
        row["balance"] += e["commission"]
        if e["kind"] != "payout":
            row[f"commission_{e['status']}"] += e["commission"]
    return dict(totals)


async def report(
    client: httpx.AsyncClient, accountant: dict[str, str], params: dict[str, str] | None = None
) -> dict[tuple[str | None, str], dict[str, int]]:
    """The report's rows by (affiliate, currency)."""
    response = await client.get("/v1/reports/commissions", params=params, headers=accountant)
    assert response.status_code == 200, response.text
    rows = response.json()["rows"]
    keyed = {
        (row["affiliate_id"], row["currency"]): {
            k: int(v) for k, v in row.items() if k not in {"affiliate_id", "currency"}
        }
        for row in rows
    }
    assert len(keyed) == len(rows)
    return keyed


@pytest.fixture
async def scenario(
    client: httpx.AsyncClient,
    marketer: dict[str, str],
    checkout: dict[str, str],
    accountant: dict[str, str],
    clock: FrozenClock,
) -> dict[str, Any]:
    return await seed_ledger_scenario(
        client, clock, marketer=marketer, checkout=checkout, accountant=accountant
    )


async def test_report_reconciles_with_the_ledger_to_the_unit(
    client: httpx.AsyncClient, accountant: dict[str, str], scenario: dict[str, Any]
) -> None:
    entries = await ledger_items(client, accountant)
    rows = await report(client, accountant)
    assert rows == totals_from_ledger(entries)
    # And the figures are the ones the scenario's arithmetic gives.
    assert {
        key: (row["orders"], row["revenue"], row["discount"], row["balance"])
        for key, row in rows.items()
    } == scenario["totals"]
    anna_eur = rows[(scenario["anna"]["id"], "EUR")]
    assert (anna_eur["commission_pending"], anna_eur["commission_paid"]) == (600, 1200)


async def test_report_of_a_period_reconciles_with_the_ledger_of_that_period(
    client: httpx.AsyncClient, accountant: dict[str, str], scenario: dict[str, Any]
) -> None:
    days = scenario["days"]
    for start, end in ((days[1], days[12]), (days[11], days[12]), (days[0], days[1])):
        params = {"from": instant(start), "to": instant(end)}
        rows = await report(client, accountant, params)
        assert rows == totals_from_ledger(await ledger_items(client, accountant, params))
        assert rows, (start, end)
    # Days 1 to 11: refunds and rollbacks, then the payout run; no new order.
    rows = await report(client, accountant, {"from": instant(days[1]), "to": instant(days[12])})
    anna_eur = rows[(scenario["anna"]["id"], "EUR")]
    assert (anna_eur["orders"], anna_eur["revenue"], anna_eur["discount"]) == (0, -2000, -500)
    assert anna_eur["balance"] == -200 - 1200  # the refund and the payout of day 11


async def test_report_of_an_empty_period_has_no_rows(
    client: httpx.AsyncClient, accountant: dict[str, str], scenario: dict[str, Any]
) -> None:
    later = instant(scenario["days"][12] + timedelta(days=1))
    assert await report(client, accountant, {"from": later}) == {}


async def test_report_amounts_are_json_integers(
    request: pytest.FixtureRequest,
    backend: str,
    client: httpx.AsyncClient,
    accountant: dict[str, str],
    scenario: dict[str, Any],
) -> None:
    response = await client.get("/v1/reports/commissions", headers=accountant)
    assert response.status_code == 200, response.text
    for row in response.json()["rows"]:
        for field, value in row.items():
            if field not in {"affiliate_id", "currency"}:
                assert type(value) is int, (field, value)


# Adjustments


async def test_adjustments_add_positive_and_negative_commission_available_at_once(
    client: httpx.AsyncClient,
    accountant: dict[str, str],
    clock: FrozenClock,
    anna: dict[str, Any],
) -> None:
    bonus = await adjust(
        client, accountant, affiliate_id=anna["id"], currency="EUR", commission=1500, note="bonus"
    )
    assert bonus.status_code == 201, bonus.text
    correction = await adjust(
        client,
        accountant,
        affiliate_id=anna["id"],
        currency="EUR",
        commission=-500,
        note="correction",
    )
    assert correction.status_code == 201, correction.text
    for response, commission, note in ((bonus, 1500, "bonus"), (correction, -500, "correction")):
        entry = response.json()
        assert entry["id"].startswith("led_")
        assert (entry["kind"], entry["affiliate_id"], entry["currency"]) == (
            "adjustment",
            anna["id"],
            "EUR",
        )
        assert (entry["commission"], entry["note"], entry["status"]) == (
            commission,
            note,
            "approved",
        )
        assert (entry["order_amount"], entry["discount"], entry["redemption_id"]) == (0, 0, None)
        assert at(entry["created_at"]) == at(entry["available_at"]) == clock()
    assert await ledger_items(client, accountant) == [bonus.json(), correction.json()]
    rows = await report(client, accountant)
    assert rows[(anna["id"], "EUR")]["balance"] == 1000


async def test_adjustment_for_an_unknown_affiliate_is_404_and_appends_nothing(
    client: httpx.AsyncClient, accountant: dict[str, str]
) -> None:
    for affiliate_id in (encode(Kind.AFFILIATE, 10**9), "aff_nope"):
        response = await adjust(
            client,
            accountant,
            affiliate_id=affiliate_id,
            currency="EUR",
            commission=100,
            note="bonus",
        )
        assert response.status_code == 404, response.text
        assert response.json()["code"] == "affiliate_not_found"
    assert await ledger_items(client, accountant) == []


async def test_adjustment_replayed_with_the_same_key_returns_the_first_response(
    client: httpx.AsyncClient, accountant: dict[str, str], anna: dict[str, Any]
) -> None:
    body = {"affiliate_id": anna["id"], "currency": "EUR", "commission": 700, "note": "bonus"}
    first = await adjust(client, accountant, key="adj-1", **body)
    assert first.status_code == 201, first.text
    again = await adjust(client, accountant, key="adj-1", **body)
    assert again.status_code == 201
    assert again.json() == first.json()
    assert again.headers.get(REPLAYED) == "true"
    assert REPLAYED not in first.headers
    assert len(await ledger_items(client, accountant)) == 1

    reused = await adjust(client, accountant, key="adj-1", **{**body, "commission": 701})
    assert reused.status_code == 422, reused.text
    assert reused.json()["code"] == "idempotency_key_reused"
    assert len(await ledger_items(client, accountant)) == 1


async def test_adjustment_without_idempotency_key_is_400(
    client: httpx.AsyncClient, accountant: dict[str, str], anna: dict[str, Any]
) -> None:
    response = await client.post(
        "/v1/ledger/adjustments",
        json={"affiliate_id": anna["id"], "currency": "EUR", "commission": 1, "note": "x"},
        headers=accountant,
    )
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "idempotency_key_required"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"currency": "XXX"}, "currency"),
        ({"currency": "eur"}, "currency"),
        ({"commission": 2**53}, "commission"),
        ({"note": ""}, "note"),
        ({"extra": 1}, "extra"),
    ],
)
async def test_invalid_adjustment_is_422_naming_the_field(
    client: httpx.AsyncClient,
    accountant: dict[str, str],
    anna: dict[str, Any],
    change: dict[str, Any],
    field: str,
) -> None:
    body = {"affiliate_id": anna["id"], "currency": "EUR", "commission": 1, "note": "x", **change}
    response = await adjust(client, accountant, **body)
    assert response.status_code == 422, response.text
    assert [error["field"] for error in response.json()["errors"]] == [field]
    assert await ledger_items(client, accountant) == []


# Who may read and write the ledger


async def test_accountant_cannot_create_campaigns_codes_affiliates_or_redeem(
    client: httpx.AsyncClient,
    checkout: dict[str, str],
    accountant: dict[str, str],
    eur: dict[str, Any],
    anna: dict[str, Any],
) -> None:
    sold = await sell(client, checkout, "ANNA", 10000)
    attempts = [
        ("POST", "/v1/campaigns", {"name": "x"}),
        ("PATCH", f"/v1/campaigns/{eur['id']}", {"status": "paused"}),
        ("POST", f"/v1/campaigns/{eur['id']}/codes", {"code": "ACCT10"}),
        ("POST", "/v1/affiliates", {"name": "x", "email": "x@example.com"}),
        ("POST", "/v1/validations", {"code": "ANNA", "cart": {}}),
        ("POST", "/v1/redemptions", {"code": "ANNA", "order_id": "o"}),
        ("POST", f"/v1/redemptions/{sold['id']}/rollback", {}),
    ]
    for method, path, body in attempts:
        response = await client.request(method, path, json=body, headers=with_key(accountant))
        assert response.status_code == 403, (method, path, response.text)
        assert response.json()["code"] == "forbidden"
    entries = await ledger_items(client, accountant)
    assert [e["kind"] for e in entries] == ["redemption"]


LEDGER_READS = ["/v1/ledger", "/v1/ledger/export", "/v1/reports/commissions"]


@pytest.mark.parametrize("role", [Role.CHECKOUT, Role.MARKETER, Role.AFFILIATE])
async def test_other_roles_can_neither_read_nor_write_the_ledger(
    client: httpx.AsyncClient, keys: dict[Role, str], anna: dict[str, Any], role: Role
) -> None:
    headers = with_key(bearer(keys[role]))
    for path in LEDGER_READS:
        response = await client.get(path, headers=headers)
        assert response.status_code == 403, (path, response.text)
    writes = [
        ("/v1/payouts", {"as_of": "2026-07-01T12:00:00Z"}),
        (
            "/v1/ledger/adjustments",
            {"affiliate_id": anna["id"], "currency": "EUR", "commission": 1, "note": "x"},
        ),
    ]
    for path, body in writes:
        response = await client.post(path, json=body, headers=headers)
        assert response.status_code == 403, (path, response.text)
    accountant = bearer(keys[Role.ACCOUNTANT])
    assert await ledger_items(client, accountant) == []


@pytest.mark.parametrize("role", [Role.ACCOUNTANT, Role.ADMIN])
async def test_accountant_and_admin_read_the_ledger_report_and_export(
    client: httpx.AsyncClient, keys: dict[Role, str], role: Role
) -> None:
    for path in LEDGER_READS:
        response = await client.get(path, headers=bearer(keys[role]))
        assert response.status_code == 200, (path, response.text)
