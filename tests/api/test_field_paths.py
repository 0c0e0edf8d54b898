"""A 422 for a body names the full path of the field (`errors[].field`), never just `body`."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.api import SUMMER, create_campaign, merged

PROBLEM = "application/problem+json"
CART: dict[str, Any] = {
    "code": "SUMMER-ABC",
    "cart": {
        "currency": "EUR",
        "items": [
            {"sku": "TEE", "quantity": 1, "unit_price": 2500},
            {"sku": "CAP", "quantity": 2, "unit_price": 1500},
        ],
    },
}


def field_errors(response: httpx.Response) -> list[dict[str, str]]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["code"] == "validation_failed"
    errors: list[dict[str, str]] = body["errors"]
    assert body["detail"] == f"{errors[0]['field']}: {errors[0]['message']}"
    return errors


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"limits": {"budget": "x"}}, "limits.budget", "Expected `int | null`, got `str`"),
        ({"limits": {"budget": 0}}, "limits.budget", "Expected `int` >= 1"),
        ({"limits": {"nope": 1}}, "limits.nope", "unknown field"),
        (
            {"rules": {"include_skus": ["A", 7]}},
            "rules.include_skus[1]",
            "Expected `str`, got `int`",
        ),
        # Rules a Struct checks itself (__post_init__): msgspec places them at
        # the Struct; the field inside it must still be named.
        (
            {"commission": {"percent": "1e9"}},
            "commission.percent",
            "must satisfy 0 < percent <= 100",
        ),
        (
            {"discount": {"type": "percentage", "percent_off": "1e9"}},
            "discount.percent_off",
            "must satisfy 0 < percent <= 100",
        ),
        (
            {"starts_at": "0001-01-01T00:00:00+10:00"},
            "starts_at",
            "must lie between years 1 and 9999 in UTC",
        ),
        ({"discount": {"type": "percentage"}}, "discount.percent_off", "required"),
        # The whole of msgspec's message, even where it contains " - ".
        ({"discount": {"type": "half - off"}}, "discount.type", "Invalid value 'half - off'"),
    ],
)
async def test_campaign_create_names_the_nested_field(
    client: httpx.AsyncClient,
    marketer: dict[str, str],
    overrides: dict[str, Any],
    field: str,
    message: str,
) -> None:
    response = await client.post("/v1/campaigns", json=merged(SUMMER, overrides), headers=marketer)
    assert field_errors(response) == [{"field": field, "message": message}]


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"limits": {"budget": "x"}}, "limits.budget"),
        ({"commission": {"percent": "1e9"}}, "commission.percent"),
        ({"ends_at": "9999-12-31T23:00:00-10:00"}, "ends_at"),
    ],
)
async def test_campaign_patch_names_the_nested_field(
    client: httpx.AsyncClient, marketer: dict[str, str], patch: dict[str, Any], field: str
) -> None:
    campaign = await create_campaign(client, marketer)
    response = await client.patch(f"/v1/campaigns/{campaign['id']}", json=patch, headers=marketer)
    assert [error["field"] for error in field_errors(response)] == [field]


@pytest.mark.parametrize(
    ("item", "field"),
    [
        ({"unit_price": "x"}, "cart.items[1].unit_price"),
        ({"quantity": 0}, "cart.items[1].quantity"),
        ({"categories": ["A", None]}, "cart.items[1].categories[1]"),
        ({"colour": "red"}, "cart.items[1].colour"),
    ],
)
@pytest.mark.parametrize("route", ["/v1/validations", "/v1/redemptions"])
async def test_checkout_names_the_field_of_the_cart_item(
    client: httpx.AsyncClient,
    checkout: dict[str, str],
    route: str,
    item: dict[str, Any],
    field: str,
) -> None:
    items = [CART["cart"]["items"][0], {**CART["cart"]["items"][1], **item}]
    body = {**CART, "cart": {**CART["cart"], "items": items}, "order_id": "order-1"}
    if route == "/v1/validations":
        del body["order_id"]
    headers = {**checkout, "Idempotency-Key": "field-paths-1"}
    response = await client.post(route, json=body, headers=headers)
    assert [error["field"] for error in field_errors(response)] == [field]


async def test_a_body_that_is_not_an_object_is_the_body(
    client: httpx.AsyncClient, marketer: dict[str, str]
) -> None:
    response = await client.post("/v1/campaigns", json=[SUMMER], headers=marketer)
    expected = {"field": "body", "message": "Expected `object`, got `array`"}
    assert field_errors(response) == [expected]
