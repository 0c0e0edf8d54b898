"""Affiliate self-service under /v1/me: only the caller's own data, no customer data.

The affiliate is always the one bound to the calling key, never one named in
the request. Other roles are refused with 403; an admin key passes the guard
but is bound to no affiliate, so every /v1/me route answers 404
``affiliate_not_found`` (documented here: a 4xx, never a 500).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import httpx
import pytest

from promo.auth.roles import Role
from tests.support.api import (
    create_affiliate,
    create_campaign,
    create_code,
    ledger_items,
    rollback,
    run_payouts,
    sell,
)
from tests.support.clock import FrozenClock
from tests.support.factories import bearer

CUSTOMER_ID = "cus_private_4711"
CUSTOMER_EMAIL = "Private.Shopper+promo@example.org"
ME_ROUTES = [
    "/v1/me",
    "/v1/me/campaigns",
    "/v1/me/codes",
    "/v1/me/redemptions",
    "/v1/me/earnings",
]


@pytest.fixture
def accountant(keys: dict[Role, str]) -> dict[str, str]:
    return bearer(keys[Role.ACCOUNTANT])


@pytest.fixture
async def world(
    client: httpx.AsyncClient, marketer: dict[str, str], keys: dict[Role, str]
) -> dict[str, Any]:
    """Anna (key from ``create_key``, 10 holding days) with codes ANNAEUR and ANNAJPY;
    Bob (key made by an admin through POST /v1/keys, no holding) with BOBEUR; SHOP20
    belongs to nobody."""
    eur = await create_campaign(
        client, marketer, ends_at=None, open_to_affiliates=True, commission={"percent": 10}
    )
    jpy = await create_campaign(
        client,
        marketer,
        name="Yen",
        currency="JPY",
        code_prefix="YEN",
        ends_at=None,
        commission={"percent": 10},
    )
    anna = await create_affiliate(client, marketer, "Anna", holding_days=10, create_key=True)
    bob = await create_affiliate(client, marketer, "Bob", holding_days=0)
    response = await client.post(
        "/v1/keys",
        json={"role": "affiliate", "affiliate_id": bob["id"], "name": "Bob's key"},
        headers=bearer(keys[Role.ADMIN]),
    )
    assert response.status_code == 201, response.text
    codes = {
        "ANNAEUR": await create_code(
            client, marketer, eur["id"], "ANNAEUR", affiliate_id=anna["id"]
        ),
        "ANNAJPY": await create_code(
            client, marketer, jpy["id"], "ANNAJPY", affiliate_id=anna["id"]
        ),
        "BOBEUR": await create_code(client, marketer, eur["id"], "BOBEUR", affiliate_id=bob["id"]),
        "SHOP20": await create_code(client, marketer, eur["id"], "SHOP20"),
    }
    return {
        "eur": eur,
        "jpy": jpy,
        "anna": anna,
        "bob": bob,
        "keys": {"anna": bearer(anna["key"]), "bob": bearer(response.json()["key"])},
        "codes": codes,
    }


@pytest.fixture
async def sales(
    client: httpx.AsyncClient,
    checkout: dict[str, str],
    accountant: dict[str, str],
    clock: FrozenClock,
    world: dict[str, Any],
) -> dict[str, Any]:
    """Sales with customer data through every code, refunds, a payout run, a clawback."""
    customer = {"customer_id": CUSTOMER_ID, "customer_email": CUSTOMER_EMAIL}
    a1 = await sell(client, checkout, "ANNAEUR", 10000, **customer)  # 800
    aj = await sell(client, checkout, "ANNAJPY", 12000, currency="JPY", **customer)  # 960
    a2 = await sell(client, checkout, "ANNAEUR", 5000, customer_id="cus_other")  # 400
    b1 = await sell(client, checkout, "BOBEUR", 10000, **customer)  # 800, approved at once
    shop = await sell(client, checkout, "SHOP20", 10000, **customer)
    clock.advance(days=1)
    assert (await rollback(client, checkout, a1["id"], amount=2000)).status_code == 200  # -200
    clock.advance(days=10)
    response = await run_payouts(client, accountant, clock())  # Anna 1000 EUR, 960 JPY; Bob 800
    assert response.status_code == 201, response.text
    assert len(response.json()["payouts"]) == 3
    clock.advance(days=1)
    a3 = await sell(client, checkout, "ANNAEUR", 7500, customer_email=CUSTOMER_EMAIL)  # 600
    assert (await rollback(client, checkout, a2["id"])).status_code == 200  # clawback -400
    b2 = await sell(client, checkout, "BOBEUR", 10000)  # 800
    return {"anna": [a1, aj, a2, a3], "bob": [b1, b2], "shop": shop}


async def me(client: httpx.AsyncClient, headers: dict[str, str], path: str) -> Any:
    response = await client.get(path, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_me_is_the_affiliate_bound_to_the_key(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    for name in ("anna", "bob"):
        body = await me(client, world["keys"][name], "/v1/me")
        expected = {k: v for k, v in world[name].items() if k != "key"}
        assert body == expected


async def test_my_codes_are_only_my_own_live_codes(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    anna, bob = world["keys"]["anna"], world["keys"]["bob"]
    assert [c["code"] for c in (await me(client, anna, "/v1/me/codes"))["items"]] == [
        "ANNAEUR",
        "ANNAJPY",
    ]
    assert [c["code"] for c in (await me(client, bob, "/v1/me/codes"))["items"]] == ["BOBEUR"]
    eur_only = await me(client, anna, f"/v1/me/codes?campaign_id={world['eur']['id']}")
    assert [c["code"] for c in eur_only["items"]] == ["ANNAEUR"]
    assert (await me(client, bob, f"/v1/me/codes?campaign_id={world['jpy']['id']}"))["items"] == []
    page = await me(client, anna, "/v1/me/codes?limit=1")
    assert [c["code"] for c in page["items"]] == ["ANNAEUR"]
    rest = await me(client, anna, f"/v1/me/codes?limit=1&cursor={page['next_cursor']}")
    assert [c["code"] for c in rest["items"]] == ["ANNAJPY"]


async def test_my_codes_of_an_unknown_campaign_is_404(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    response = await client.get("/v1/me/codes?campaign_id=cmp_nope", headers=world["keys"]["anna"])
    assert response.status_code == 404, response.text
    assert response.json()["code"] == "campaign_not_found"


async def test_my_redemptions_carry_no_customer_data(
    client: httpx.AsyncClient, world: dict[str, Any], sales: dict[str, Any]
) -> None:
    response = await client.get("/v1/me/redemptions", headers=world["keys"]["anna"])
    assert response.status_code == 200, response.text
    raw = response.text
    for secret in (CUSTOMER_ID, "cus_other", CUSTOMER_EMAIL, "private.shopper", "example.org"):
        assert secret.lower() not in raw.lower(), secret
    for banned in ("customer", "email"):
        assert banned not in raw, banned
    items = response.json()["items"]
    assert len(items) == 4
    for item in items:
        assert not {k for k in item if "customer" in k or "email" in k}


async def test_my_redemptions_show_my_sales_refunds_and_rollbacks_in_id_order(
    client: httpx.AsyncClient, world: dict[str, Any], sales: dict[str, Any]
) -> None:
    anna = world["keys"]["anna"]
    items = (await me(client, anna, "/v1/me/redemptions"))["items"]
    assert [i["id"] for i in items] == [s["id"] for s in sales["anna"]]
    assert [
        (i["code"], i["currency"], i["order_amount"], i["commission"], i["refunded_amount"])
        for i in items
    ] == [
        ("ANNAEUR", "EUR", 8000, 800, 2000),
        ("ANNAJPY", "JPY", 9600, 960, 0),
        ("ANNAEUR", "EUR", 4000, 400, 4000),
        ("ANNAEUR", "EUR", 6000, 600, 0),
    ]
    assert [i["status"] for i in items] == [
        "partially_refunded",
        "active",
        "rolled_back",
        "active",
    ]
    assert [i["order_id"] for i in items] == [s["order_id"] for s in sales["anna"]]
    assert {i["campaign_id"] for i in items} == {world["eur"]["id"], world["jpy"]["id"]}

    paged: list[str] = []
    cursor = None
    while True:
        params = {"limit": "3", **({"cursor": cursor} if cursor else {})}
        response = await client.get("/v1/me/redemptions", params=params, headers=anna)
        assert response.status_code == 200, response.text
        paged.extend(i["id"] for i in response.json()["items"])
        cursor = response.json()["next_cursor"]
        if cursor is None:
            break
    assert paged == [i["id"] for i in items]


def earnings_from_ledger(entries: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    totals: dict[str, dict[str, int]] = defaultdict(
        lambda: {"pending": 0, "approved": 0, "paid": 0, "balance": 0}
    )
    for entry in entries:
        row = totals[entry["currency"]]
        row["balance"] += entry["commission"]
        if entry["kind"] != "payout":
            row[entry["status"]] += entry["commission"]
    return dict(totals)


async def earnings(
    client: httpx.AsyncClient, headers: dict[str, str], affiliate_id: str
) -> dict[str, dict[str, int]]:
    """/v1/me/earnings by currency."""
    body = await me(client, headers, "/v1/me/earnings")
    assert body["affiliate_id"] == affiliate_id
    return {
        row["currency"]: {k: int(v) for k, v in row.items() if k != "currency"}
        for row in body["earnings"]
    }


async def test_my_earnings_agree_with_the_ledger(
    client: httpx.AsyncClient,
    accountant: dict[str, str],
    world: dict[str, Any],
    sales: dict[str, Any],
) -> None:
    for name in ("anna", "bob"):
        affiliate_id = world[name]["id"]
        mine = await earnings(client, world["keys"][name], affiliate_id)
        ledger = await ledger_items(client, accountant, {"affiliate_id": affiliate_id})
        assert mine == earnings_from_ledger(ledger)
    anna = await earnings(client, world["keys"]["anna"], world["anna"]["id"])
    # EUR: 800 - 200 + 400 paid (1000), then 600 pending and the -400 clawback.
    assert (anna["EUR"]["pending"], anna["EUR"]["paid"], anna["EUR"]["balance"]) == (
        600,
        1000,
        200,
    )
    assert anna["JPY"] == {"pending": 0, "approved": 0, "paid": 960, "balance": 0}
    bob = await earnings(client, world["keys"]["bob"], world["bob"]["id"])
    assert bob == {"EUR": {"pending": 0, "approved": 800, "paid": 800, "balance": 800}}


async def test_my_earnings_are_empty_before_any_sale(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    body = await me(client, world["keys"]["anna"], "/v1/me/earnings")
    assert body == {"affiliate_id": world["anna"]["id"], "earnings": []}


async def test_my_earnings_amounts_are_json_integers(
    request: pytest.FixtureRequest,
    backend: str,
    client: httpx.AsyncClient,
    world: dict[str, Any],
    sales: dict[str, Any],
) -> None:
    body = await me(client, world["keys"]["anna"], "/v1/me/earnings")
    assert body["earnings"]
    for row in body["earnings"]:
        for field in ("pending", "approved", "paid", "balance"):
            assert type(row[field]) is int, (field, row[field])


async def test_an_affiliate_sees_nothing_of_another_affiliate(
    client: httpx.AsyncClient, world: dict[str, Any], sales: dict[str, Any]
) -> None:
    anna, bob = world["keys"]["anna"], world["keys"]["bob"]
    bob_marks = [world["bob"]["id"], "BOBEUR", *(s["id"] for s in sales["bob"])]
    bob_marks += [s["order_id"] for s in sales["bob"]]
    anna_marks = [world["anna"]["id"], "ANNAEUR", "ANNAJPY", *(s["id"] for s in sales["anna"])]
    anna_marks += [s["order_id"] for s in sales["anna"]]
    shop_marks = ["SHOP20", sales["shop"]["id"], sales["shop"]["order_id"]]
    for headers, others in ((anna, bob_marks + shop_marks), (bob, anna_marks + shop_marks)):
        for path in ME_ROUTES:
            text = (await client.get(path, headers=headers)).text
            for mark in others:
                assert mark not in text, (path, mark)
    assert [r["currency"] for r in (await me(client, bob, "/v1/me/earnings"))["earnings"]] == [
        "EUR"
    ]
    bob_sales = (await me(client, bob, "/v1/me/redemptions"))["items"]
    assert [r["id"] for r in bob_sales] == [s["id"] for s in sales["bob"]]


async def test_an_affiliate_cannot_reach_the_ledger_or_redemptions_of_anyone(
    client: httpx.AsyncClient, world: dict[str, Any], sales: dict[str, Any]
) -> None:
    anna = world["keys"]["anna"]
    bob_id, bob_sale = world["bob"]["id"], sales["bob"][0]["id"]
    for path in (
        f"/v1/ledger?affiliate_id={bob_id}",
        f"/v1/ledger/export?affiliate_id={bob_id}",
        "/v1/reports/commissions",
        f"/v1/redemptions/{bob_sale}",
        "/v1/redemptions",
        f"/v1/affiliates/{bob_id}",
    ):
        response = await client.get(path, headers=anna)
        assert response.status_code == 403, (path, response.text)


@pytest.mark.parametrize("role", [Role.MARKETER, Role.CHECKOUT, Role.ACCOUNTANT])
async def test_every_me_route_refuses_other_roles_with_403(
    client: httpx.AsyncClient, keys: dict[Role, str], world: dict[str, Any], role: Role
) -> None:
    headers = bearer(keys[role])
    for path in ME_ROUTES:
        response = await client.get(path, headers=headers)
        assert response.status_code == 403, (path, response.text)
        assert response.json()["code"] == "forbidden"
    response = await client.post(
        "/v1/me/codes", json={"campaign_id": world["eur"]["id"]}, headers=headers
    )
    assert response.status_code == 403, response.text


async def test_an_admin_key_is_bound_to_no_affiliate_so_me_routes_are_404(
    client: httpx.AsyncClient, keys: dict[Role, str], world: dict[str, Any]
) -> None:
    """The guard admits admin everywhere; /v1/me has no affiliate to show for it."""
    admin = bearer(keys[Role.ADMIN])
    for path in ME_ROUTES:
        response = await client.get(path, headers=admin)
        assert response.status_code == 404, (path, response.text)
        assert response.json()["code"] == "affiliate_not_found"
    response = await client.post(
        "/v1/me/codes", json={"campaign_id": world["eur"]["id"]}, headers=admin
    )
    assert response.status_code == 404, response.text
    assert response.json()["code"] == "affiliate_not_found"


async def test_a_deactivated_affiliates_key_is_refused_on_me_routes(
    client: httpx.AsyncClient, marketer: dict[str, str], world: dict[str, Any]
) -> None:
    response = await client.patch(
        f"/v1/affiliates/{world['anna']['id']}", json={"active": False}, headers=marketer
    )
    assert response.status_code == 200, response.text
    for path in ME_ROUTES:
        response = await client.get(path, headers=world["keys"]["anna"])
        assert response.status_code == 401, (path, response.text)
