"""POST /v1/qualifications: the customer's own codes that would apply to a cart,
best value first, consuming nothing."""

from __future__ import annotations

from typing import Any

import httpx

from promo.auth.roles import Role
from tests.support.api import cart, create_campaign, create_code, item, redeem
from tests.support.factories import bearer

SHIRTS = cart(item("TSHIRT", 2, 2500, "summer"), shipping=490)


async def qualify(
    client: httpx.AsyncClient, checkout: dict[str, str], **body: Any
) -> dict[str, Any]:
    response = await client.post(
        "/v1/qualifications", json={"cart": SHIRTS, **body}, headers=checkout
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def test_the_customers_own_codes_that_apply_best_value_first(
    client: httpx.AsyncClient, marketer: dict[str, str], checkout: dict[str, str]
) -> None:
    twenty = await create_campaign(client, marketer, name="Twenty")
    shipping = await create_campaign(
        client, marketer, name="Shipping", discount={"type": "free_shipping"}
    )
    big = await create_campaign(
        client, marketer, name="Big spenders", rules={"min_subtotal": 100_000}
    )
    await create_code(client, marketer, shipping["id"], "SORRY-SHIP", customer_id="cus-1")
    await create_code(
        client,
        marketer,
        twenty["id"],
        "WINBACK20",
        customer_email="ana@example.com",
        max_redemptions=1,
    )
    # Bound to her but not for this cart; bound to someone else; bound to nobody.
    await create_code(client, marketer, big["id"], "BIG20", customer_id="cus-1")
    await create_code(client, marketer, twenty["id"], "OTHER20", customer_id="cus-2")
    await create_code(client, marketer, twenty["id"], "PUBLIC20")

    found = await qualify(client, checkout, customer_id="cus-1", customer_email="Ana@example.com")
    # 20 % of 50.00 (10.00) before free shipping (4.90).
    assert [(c["code"], c["discount"]["total"]) for c in found["codes"]] == [
        ("WINBACK20", 1000),
        ("SORRY-SHIP", 490),
    ]
    assert found["codes"][0]["campaign_id"] == twenty["id"]
    assert found["codes"][0]["discount"]["lines"] == [
        {"line_id": "0", "sku": "TSHIRT", "amount": 1000}
    ]
    # By the id alone, only what is bound to the id.
    by_id = await qualify(client, checkout, customer_id="cus-1")
    assert [c["code"] for c in by_id["codes"]] == ["SORRY-SHIP"]
    # Nothing was consumed: the single-use code redeems for what it showed, once.
    sale = {"code": "WINBACK20", "cart": SHIRTS, "customer_email": "ana@example.com"}
    first = await redeem(client, checkout, order_id="o-1", **sale)
    assert first.status_code == 201, first.text
    assert first.json()["discount"]["total"] == 1000
    after = await qualify(client, checkout, customer_email="ana@example.com")
    assert [c["code"] for c in after["codes"]] == []


async def test_a_customer_is_needed_and_a_bad_one_is_named(
    client: httpx.AsyncClient, checkout: dict[str, str]
) -> None:
    for body, field in (
        ({}, "customer_id"),
        ({"customer_email": "not-an-address"}, "customer_email"),
        ({"customer_id": "c-1", "cart": {**SHIRTS, "currency": "XXQ"}}, "cart.currency"),
    ):
        response = await client.post(
            "/v1/qualifications", json={"cart": SHIRTS, **body}, headers=checkout
        )
        assert response.status_code == 422, response.text
        assert field in response.text


async def test_only_the_checkout_role_and_admins_ask(
    client: httpx.AsyncClient, keys: dict[Role, str]
) -> None:
    for role in Role:
        response = await client.post(
            "/v1/qualifications",
            json={"cart": SHIRTS, "customer_id": "c-1"},
            headers=bearer(keys[role]),
        )
        allowed = role in (Role.CHECKOUT, Role.ADMIN)
        assert response.status_code == (200 if allowed else 403), role
