"""The discount kinds of issue 19 through the API: created, read back, refused with the
field named, validated and redeemed against a cart with their amount per line."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.api import cart, create_campaign, create_code, item, redeem

TOPS = cart(
    item("TSHIRT-1", 2, 3000, "tops"),
    item("TSHIRT-2", 2, 1500, "tops"),
    item("CAP-1", 1, 1000, "hats"),
    shipping=490,
)


async def _checkout(
    client: httpx.AsyncClient,
    marketer: dict[str, str],
    checkout: dict[str, str],
    discount: dict[str, Any],
    code: str,
    basket: dict[str, Any] = TOPS,
) -> tuple[dict[str, Any], dict[str, Any], httpx.Response]:
    """Create the campaign and its code, validate, redeem: (campaign, validation, redemption)."""
    campaign = await create_campaign(client, marketer, discount=discount, rules={})
    await create_code(client, marketer, campaign["id"], code)
    checked = await client.post(
        "/v1/validations", json={"code": code, "cart": basket}, headers=checkout
    )
    assert checked.status_code == 200, checked.text
    redeemed = await redeem(client, checkout, code=code, cart=basket, order_id=f"ord-{code}")
    return campaign, checked.json(), redeemed


def _lines(discount: dict[str, Any]) -> dict[str, int]:
    return {x["line_id"]: x["amount"] for x in discount["lines"]}


async def test_five_off_each_tshirt_up_to_three(
    client: httpx.AsyncClient, marketer: dict[str, str], checkout: dict[str, str]
) -> None:
    discount = {
        "type": "fixed_amount",
        "amount_off": 500,
        "allocation": "each",
        "max_quantity": 3,
    }
    campaign, checked, redeemed = await _checkout(client, marketer, checkout, discount, "EACH5")
    assert campaign["discount"] == {**discount, "currency": "EUR"}
    # The cheapest three units: the cap, then both 15.00 t-shirts.
    assert checked["valid"] is True
    assert _lines(checked["discount"]) == {"0": 0, "1": 1000, "2": 500}
    assert redeemed.status_code == 201, redeemed.text
    assert redeemed.json()["discount"] == checked["discount"]
    assert redeemed.json()["order_amount"] == 2 * 3000 + 2 * 1500 + 1000 - 1500


async def test_buy_two_tops_get_the_cheapest_one_half_price(
    client: httpx.AsyncClient, marketer: dict[str, str], checkout: dict[str, str]
) -> None:
    discount = {
        "type": "buy_x_get_y",
        "buy": {"skus": [], "categories": ["tops"]},
        "get": {"skus": [], "categories": ["tops"]},
        "buy_quantity": 2,
        "get_quantity": 1,
        "percent_off": "50.00",
        "max_applications": 1,
    }
    campaign, checked, redeemed = await _checkout(client, marketer, checkout, discount, "B2G1")
    assert campaign["discount"] == discount
    assert _lines(checked["discount"]) == {"0": 0, "1": 750, "2": 0}
    assert checked["discount"]["total"] == 750
    assert redeemed.status_code == 201, redeemed.text
    assert redeemed.json()["discount"]["lines"] == checked["discount"]["lines"]


async def test_buy_x_get_y_short_of_items_is_refused_with_what_is_missing(
    client: httpx.AsyncClient, marketer: dict[str, str], checkout: dict[str, str]
) -> None:
    discount = {
        "type": "buy_x_get_y",
        "buy": {"categories": ["tops"]},
        "get": {"skus": ["CAP-1"]},
        "buy_quantity": 5,
        "get_quantity": 1,
        "percent_off": 100,
    }
    _, checked, redeemed = await _checkout(client, marketer, checkout, discount, "B5G1")
    assert checked["valid"] is False
    assert checked["reason"] == "min_quantity_not_met"
    assert checked["details"] == {"min_quantity": 6, "missing_quantity": 1}
    assert redeemed.status_code == 409
    assert redeemed.json()["code"] == "min_quantity_not_met"


async def test_gift_tells_the_checkout_to_add_it_then_makes_it_free(
    client: httpx.AsyncClient, marketer: dict[str, str], checkout: dict[str, str]
) -> None:
    discount = {"type": "gift", "sku": "TOTE-1", "threshold": 5000, "quantity": 1}
    campaign, checked, without = await _checkout(client, marketer, checkout, discount, "TOTE")
    assert campaign["discount"] == discount
    # Redeemed without the gift, it would spend a use for nothing: refused, naming it.
    assert without.status_code == 409, without.text
    assert without.json()["reason"] == "nothing_to_discount"
    assert without.json()["gift"] == {"sku": "TOTE-1", "quantity": 1}
    assert checked["valid"] is True
    assert checked["discount"]["total"] == 0
    assert checked["discount"]["gift"] == {
        "sku": "TOTE-1",
        "quantity": 1,
        "in_cart": 0,
        "amount": 0,
    }
    with_tote = {**TOPS, "items": [*TOPS["items"], item("TOTE-1", 1, 1200)]}
    again = await client.post(
        "/v1/validations", json={"code": "TOTE", "cart": with_tote}, headers=checkout
    )
    assert again.json()["discount"]["gift"] == {
        "sku": "TOTE-1",
        "quantity": 1,
        "in_cart": 1,
        "amount": 1200,
    }
    assert _lines(again.json()["discount"])["3"] == 1200
    redeemed = await redeem(client, checkout, code="TOTE", cart=with_tote, order_id="ord-tote")
    assert redeemed.status_code == 201, redeemed.text
    assert redeemed.json()["discount"]["total"] == 1200


async def test_tiers_apply_the_highest_threshold_reached(
    client: httpx.AsyncClient, marketer: dict[str, str], checkout: dict[str, str]
) -> None:
    discount = {
        "type": "tiered",
        "tiers": [
            {"threshold": 5000, "amount_off": 500, "percent_off": None},
            {"threshold": 10000, "amount_off": None, "percent_off": "15.00"},
        ],
    }
    campaign, checked, redeemed = await _checkout(client, marketer, checkout, discount, "TIERS")
    assert campaign["discount"] == discount
    # 100.00 of items reach the second tier: 15% split by line total.
    assert checked["discount"]["total"] == 1500
    assert _lines(checked["discount"]) == {"0": 900, "1": 450, "2": 150}
    assert redeemed.status_code == 201, redeemed.text
    small = cart(item("CAP-1", 1, 1000))
    refused = await client.post(
        "/v1/validations", json={"code": "TIERS", "cart": small}, headers=checkout
    )
    assert refused.json()["reason"] == "min_subtotal_not_met"
    assert refused.json()["details"] == {"min_subtotal": 5000, "missing_subtotal": 4000}


@pytest.mark.parametrize(
    ("discount", "field"),
    [
        ({"type": "fixed_amount", "amount_off": 500, "max_quantity": 3}, "discount.max_quantity"),
        (
            {"type": "percentage", "percent_off": 10, "allocation": "each", "max_quantity": 0},
            "discount.max_quantity",
        ),
        (
            {
                "type": "buy_x_get_y",
                "buy": {"skus": [], "categories": []},
                "get": {"skus": ["CAP-1"]},
                "buy_quantity": 1,
                "get_quantity": 1,
                "percent_off": 100,
            },
            "discount.buy.skus",
        ),
        (
            {
                "type": "buy_x_get_y",
                "buy": {"skus": ["A"]},
                "get": {"skus": ["B"]},
                "buy_quantity": 1,
                "get_quantity": 0,
                "percent_off": 100,
            },
            "discount.get_quantity",
        ),
        (
            {
                "type": "buy_x_get_y",
                "buy": {"skus": ["A"]},
                "get": {"skus": ["B"]},
                "buy_quantity": 1,
                "get_quantity": 1,
                "percent_off": "100.5",
            },
            "discount.percent_off",
        ),
        (
            {
                "type": "tiered",
                "tiers": [
                    {"threshold": 10000, "amount_off": 1500},
                    {"threshold": 5000, "amount_off": 500},
                ],
            },
            "discount.tiers[1].threshold",
        ),
        (
            {"type": "tiered", "tiers": [{"threshold": 10000, "amount_off": 1, "percent_off": 5}]},
            "discount.tiers[0].amount_off",
        ),
        (
            {"type": "tiered", "tiers": [{"threshold": 10000, "percent_off": "5.555"}]},
            "discount.tiers[0].percent_off",
        ),
        ({"type": "tiered", "tiers": []}, "discount.tiers"),
        ({"type": "gift", "sku": "TOTE-1", "threshold": 0}, "discount.threshold"),
    ],
)
async def test_bad_terms_are_refused_naming_the_field(
    client: httpx.AsyncClient, marketer: dict[str, str], discount: dict[str, Any], field: str
) -> None:
    body = {
        "name": "Bad",
        "currency": "EUR",
        "starts_at": "2026-06-01T00:00:00Z",
        "discount": discount,
    }
    response = await client.post("/v1/campaigns", json=body, headers=marketer)
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == [field]
