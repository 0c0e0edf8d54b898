"""Arrange through the public API: campaigns and codes as a marketer would create them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx

from tests.support.clock import FrozenClock

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


# Affiliates, the ledger and payouts (issue 6).


async def create_affiliate(
    client: httpx.AsyncClient, marketer: dict[str, str], name: str = "Affiliate", **fields: Any
) -> dict[str, Any]:
    """POST /v1/affiliates as a marketer; the e-mail is derived from ``name`` unless given."""
    body = {"name": name, "email": f"{name.lower().replace(' ', '.')}@partners.test", **fields}
    response = await client.post("/v1/affiliates", json=body, headers=marketer)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def sell(
    client: httpx.AsyncClient,
    checkout: dict[str, str],
    code: str,
    amount: int,
    *,
    currency: str = "EUR",
    order_id: str | None = None,
    **body: Any,
) -> dict[str, Any]:
    """Redeem ``code`` on a one-line cart worth ``amount`` (no shipping); asserts 201."""
    response = await redeem(
        client,
        checkout,
        code=code,
        cart=cart(item("SKU-1", 1, amount), currency=currency, shipping=0),
        order_id=order_id or f"ord_{uuid.uuid4().hex[:12]}",
        **body,
    )
    assert response.status_code == 201, response.text
    sold: dict[str, Any] = response.json()
    return sold


def instant(value: datetime) -> str:
    """A UTC instant as a query parameter (``Z``: a ``+`` would arrive as a space)."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


async def ledger_items(
    client: httpx.AsyncClient, headers: dict[str, str], params: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    """Every entry GET /v1/ledger returns for ``params``, following the cursor."""
    found: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        query = {**(params or {}), "limit": "500", **({"cursor": cursor} if cursor else {})}
        response = await client.get("/v1/ledger", params=query, headers=headers)
        assert response.status_code == 200, response.text
        page = response.json()
        found.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return found


async def run_payouts(
    client: httpx.AsyncClient, headers: dict[str, str], as_of: datetime, *, key: str | None = None
) -> httpx.Response:
    """POST /v1/payouts as of ``as_of`` with an Idempotency-Key (fresh unless given)."""
    return await client.post(
        "/v1/payouts", json={"as_of": instant(as_of)}, headers=with_key(headers, key)
    )


async def adjust(
    client: httpx.AsyncClient, headers: dict[str, str], *, key: str | None = None, **body: Any
) -> httpx.Response:
    """POST /v1/ledger/adjustments with ``body`` and an Idempotency-Key (fresh unless given)."""
    return await client.post("/v1/ledger/adjustments", json=body, headers=with_key(headers, key))


LEDGER_NOTE = 'correction, "Q3" bonus\nreverted'
"""A note with a comma, a quote and a newline: CSV must quote it and keep it whole."""


async def seed_ledger_scenario(
    client: httpx.AsyncClient,
    clock: FrozenClock,
    *,
    marketer: dict[str, str],
    checkout: dict[str, str],
    accountant: dict[str, str],
) -> dict[str, Any]:
    """Two affiliates, an EUR and a JPY campaign (10% commission; Bob's own plan is
    5% + 100), codes without affiliate too; sales, partial refunds and rollbacks, one
    payout run, sales and a clawback after it, two adjustments. Moves ``clock`` 12 days.

    Returns the ids, the instants of days 0, 1, 11 and 12, the payouts made and the
    expected totals per (affiliate id or None, currency) over the whole ledger:
    (orders, revenue, discount, balance)."""
    day0 = clock()
    eur = await create_campaign(
        client, marketer, name="Ledger EUR", ends_at=None, commission={"percent": 10}
    )
    jpy = await create_campaign(
        client,
        marketer,
        name="Ledger JPY",
        currency="JPY",
        code_prefix="YEN",
        ends_at=None,
        commission={"percent": 10},
    )
    anna = await create_affiliate(client, marketer, "Anna Ledger", holding_days=10)
    bob = await create_affiliate(
        client, marketer, "Bob Ledger", holding_days=10, commission={"percent": 5, "fixed": 100}
    )
    for campaign, suffix in ((eur, "EUR"), (jpy, "JPY")):
        for owner, name in ((anna, "ANNA"), (bob, "BOB"), (None, "SHOP")):
            fields = {"affiliate_id": owner["id"]} if owner else {}
            await create_code(client, marketer, campaign["id"], f"{name}{suffix}", **fields)

    # Day 0: 20% off; commission on the net order (order_amount).
    await sell(client, checkout, "ANNAEUR", 2499)  # 1999 net ("19.99"), 500 off, 200
    a1 = await sell(client, checkout, "ANNAEUR", 10000)  # 8000, 2000 off, 800
    await sell(client, checkout, "ANNAEUR", 5000)  # 4000, 1000 off, 400
    b1 = await sell(client, checkout, "BOBEUR", 10000)  # 8000, 2000 off, 400 + 100
    aj = await sell(client, checkout, "ANNAJPY", 12000, currency="JPY")  # 9600, 2400, 960
    bj = await sell(client, checkout, "BOBJPY", 20000, currency="JPY")  # 16000, 4000, 900
    await sell(client, checkout, "SHOPEUR", 3000)  # 2400, 600 off, no commission
    await sell(client, checkout, "SHOPJPY", 2499, currency="JPY")  # 1999 ("1999"), 500 off

    day1 = clock.advance(days=1)
    refunds: list[tuple[dict[str, Any], dict[str, Any]]] = [
        (a1, {"amount": 2000}),
        (b1, {}),  # full rollback
        (bj, {"amount": 4000}),
    ]
    for redemption, body in refunds:
        response = await rollback(client, checkout, redemption["id"], **body)
        assert response.status_code == 200, response.text
    # a1: -2000, -500 off, -200; b1: -8000, -2000 off, -500; bj: -4000, -1000 off, -200

    day11 = clock.advance(days=10)  # day 0's commissions are approved (10 holding days)
    response = await run_payouts(client, accountant, day11)
    assert response.status_code == 201, response.text
    payouts = response.json()["payouts"]

    day12 = clock.advance(days=1)
    await sell(client, checkout, "ANNAEUR", 7500)  # 6000, 1500 off, 600: pending
    response = await rollback(client, checkout, aj["id"])  # clawback of a paid 960
    assert response.status_code == 200, response.text
    for affiliate, commission, note in ((bob, 250, "welcome bonus"), (anna, -500, LEDGER_NOTE)):
        response = await adjust(
            client,
            accountant,
            affiliate_id=affiliate["id"],
            currency="EUR",
            commission=commission,
            note=note,
        )
        assert response.status_code == 201, response.text

    return {
        "anna": anna,
        "bob": bob,
        "eur": eur,
        "jpy": jpy,
        "days": {0: day0, 1: day1, 11: day11, 12: day12},
        "payouts": payouts,
        "totals": {
            (anna["id"], "EUR"): (4, 17999, 4500, 100),
            (anna["id"], "JPY"): (1, 0, 0, -960),
            (bob["id"], "EUR"): (1, 0, 0, 250),
            (bob["id"], "JPY"): (1, 12000, 3000, 0),
            (None, "EUR"): (1, 2400, 600, 0),
            (None, "JPY"): (1, 1999, 500, 0),
        },
    }
