"""Marketers see a campaign's held reservations: how many on its page, which on their own."""

from __future__ import annotations

import re
import uuid

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from promo.auth.roles import Role
from tests.support.api import cart, create_campaign, create_code, item, with_key
from tests.support.clock import FrozenClock
from tests.support.console import Browser
from tests.support.factories import bearer, make_key


async def test_held_reservations_are_counted_and_listed_until_released(
    marketer: Browser, client: httpx.AsyncClient, db: AsyncSession, clock: FrozenClock
) -> None:
    market = bearer(await make_key(db, Role.MARKETER, now=clock()))
    checkout = bearer(await make_key(db, Role.CHECKOUT, now=clock()))
    campaign = await create_campaign(client, market, name="Summer")
    other = await create_campaign(client, market, name="Other", code_prefix="OTHER")
    await create_code(client, market, campaign["id"], "HOLDME")
    await create_code(client, market, other["id"], "ELSEWHERE")
    held = []
    for code in ("HOLDME", "HOLDME", "ELSEWHERE"):
        answer = await client.post(
            "/v1/reservations",
            json={
                "code": code,
                "customer_id": f"cus_{uuid.uuid4().hex[:6]}",
                "cart": cart(item("TSHIRT-1", 2, 2500)),
            },
            headers=with_key(checkout),
        )
        assert answer.status_code == 201, answer.text
        held.append(answer.json())
    await client.post(f"/v1/reservations/{held[1]['id']}/release", headers=checkout)

    detail = await marketer.get(f"/console/campaigns/{campaign['id']}")
    assert detail.status_code == 200, detail.text
    figures = dict(re.findall(r"<span>([^<]+)</span><b>(?:<a [^>]*>)?([^<]*)<", detail.text))
    assert figures["Held now"] == "1"
    page = await marketer.get(f"/console/campaigns/{campaign['id']}/reservations")
    assert page.status_code == 200, page.text
    assert held[0]["id"] in page.text
    assert held[1]["id"] not in page.text  # released
    assert held[2]["id"] not in page.text  # another campaign's
    assert "€10.00" in page.text
    # Not for whom: no shopper's ref.
    assert held[0]["customer_ref"] not in page.text

    await marketer.post("/console/account/language", {"locale": "fr"})
    french = await marketer.get(f"/console/campaigns/{campaign['id']}/reservations")
    assert "Réservations en cours de Summer" in french.text
    assert "en cours</span>" in french.text
