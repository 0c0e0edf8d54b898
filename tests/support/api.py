"""Arrange through the public API: campaigns and codes as a marketer would create them."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

SUMMER: dict[str, Any] = {
    "name": "Summer 2026",
    "status": "active",
    "currency": "EUR",
    "starts_at": "2026-06-01T00:00:00+02:00",
    "ends_at": "2026-08-31T23:59:59+02:00",
    "timezone": "Europe/Paris",
    "code_prefix": "SUMMER",
    "discount": {"type": "percentage", "percent_off": 20, "max_discount": 5000},
    "rules": {"exclude_skus": ["GIFT-CARD"]},
}


def merged(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``overrides``; nested sections merge, a discount is replaced whole."""
    result = dict(base)
    for key, value in overrides.items():
        if key != "discount" and isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merged(result[key], value)
        else:
            result[key] = value
    return result


async def create_campaign(
    client: httpx.AsyncClient, headers: dict[str, str], **overrides: Any
) -> dict[str, Any]:
    response = await client.post("/v1/campaigns", json=merged(SUMMER, overrides), headers=headers)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def create_code(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    campaign_id: str,
    code: str,
    **fields: Any,
) -> dict[str, Any]:
    response = await client.post(
        f"/v1/campaigns/{campaign_id}/codes", json={"code": code, **fields}, headers=headers
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def cart(*items: dict[str, Any], currency: str = "EUR", shipping: int = 490) -> dict[str, Any]:
    return {"currency": currency, "shipping": shipping, "items": list(items)}


def item(sku: str, quantity: int, unit_price: int, *categories: str) -> dict[str, Any]:
    return {
        "sku": sku,
        "quantity": quantity,
        "unit_price": unit_price,
        "categories": list(categories),
    }


def with_key(headers: dict[str, str], key: str | None = None) -> dict[str, str]:
    """``headers`` plus an ``Idempotency-Key`` (a fresh one unless ``key`` is given)."""
    return {**headers, "Idempotency-Key": key if key is not None else str(uuid.uuid4())}


async def redeem(
    client: httpx.AsyncClient, headers: dict[str, str], *, key: str | None = None, **body: Any
) -> httpx.Response:
    """POST /v1/redemptions with ``body`` and an Idempotency-Key (fresh unless given)."""
    return await client.post("/v1/redemptions", json=body, headers=with_key(headers, key))


async def rollback(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    redemption_id: str,
    *,
    key: str | None = None,
    **body: Any,
) -> httpx.Response:
    """POST /v1/redemptions/{id}/rollback with ``body`` (``{}`` = full rollback)."""
    return await client.post(
        f"/v1/redemptions/{redemption_id}/rollback", json=body, headers=with_key(headers, key)
    )


async def usage_of(
    client: httpx.AsyncClient, marketer: dict[str, str], campaign_id: str, *codes: str
) -> dict[str, int]:
    """The campaign's usage (redemptions, budget_used) and each code's ``used``, as read
    through the API by a marketer."""
    response = await client.get(f"/v1/campaigns/{campaign_id}", headers=marketer)
    assert response.status_code == 200, response.text
    result: dict[str, int] = dict(response.json()["usage"])
    for code in codes:
        found = await client.get(f"/v1/codes/{code}", headers=marketer)
        assert found.status_code == 200, found.text
        result[code] = found.json()["used"]
    return result
