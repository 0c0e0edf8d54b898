"""A campaign's performance page: the report's figures, per day, top codes and affiliates."""

from __future__ import annotations

import re

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from promo.auth.roles import Role
from tests.support.api import create_affiliate, create_campaign, create_code, sell
from tests.support.clock import FrozenClock
from tests.support.console import Browser
from tests.support.factories import bearer, make_key


async def test_the_page_shows_the_reports_figures_for_the_campaign_only(
    marketer: Browser, client: httpx.AsyncClient, db: AsyncSession, clock: FrozenClock
) -> None:
    market = bearer(await make_key(db, Role.MARKETER, now=clock()))
    checkout = bearer(await make_key(db, Role.CHECKOUT, now=clock()))
    campaign = await create_campaign(client, market, name="Summer")
    other = await create_campaign(client, market, name="Other", code_prefix="OTHER")
    anna = await create_affiliate(client, market, "Anna")
    await create_code(client, market, campaign["id"], "ANNA10", affiliate_id=anna["id"])
    await create_code(client, market, campaign["id"], "SUMMER20")
    await create_code(client, market, other["id"], "OTHER5")
    await sell(client, checkout, "ANNA10", 10_000)  # 20% off: 2,000 discount
    await sell(client, checkout, "ANNA10", 5_000)
    await sell(client, checkout, "SUMMER20", 2_500)
    await sell(client, checkout, "OTHER5", 99_900)
    clock.advance(days=1)
    await sell(client, checkout, "SUMMER20", 1_000)
    await marketer.sign_in("mia@example.com")  # a day later: the first session has ended

    answer = await marketer.get(f"/console/campaigns/{campaign['id']}/performance")
    assert answer.status_code == 200, answer.text
    figures = dict(re.findall(r"<span>([^<]+)</span><b>([^<]*)</b>", answer.text))
    assert figures["Redemptions"] == "4"
    # Revenue is the order amounts after discount: 8,000 + 4,000 + 2,000 + 800.
    assert figures["Revenue"] == "€148.00"
    assert figures["Discount granted"] == "€37.00"
    bars = re.findall(r"<rect class=\"bar\"[^>]*><title>([^<]+)</title>", answer.text)
    assert len(bars) == 3 * 30  # redemptions, revenue, discount: one bar per day
    redemptions = bars[:30]
    assert redemptions[-2:] == ["Jul 1, 2026: 3", "Jul 2, 2026: 1"]
    assert set(redemptions[:-2]) == {f"{title.split(':')[0]}: 0" for title in redemptions[:-2]}
    assert bars[59] == "Jul 2, 2026: €8.00"
    top = answer.text.split("Top codes")[1]
    assert top.index("ANNA10") < top.index("SUMMER20")
    assert "OTHER5" not in answer.text
    assert anna["id"] in answer.text.split("Top affiliates")[1]


async def test_a_bad_period_is_named_beside_its_field(
    marketer: Browser, db: AsyncSession, client: httpx.AsyncClient, clock: FrozenClock
) -> None:
    market = bearer(await make_key(db, Role.MARKETER, now=clock()))
    campaign = await create_campaign(client, market)
    answer = await marketer.get(
        f"/console/campaigns/{campaign['id']}/performance?start=2026-07-10&end=2026-07-01"
    )
    assert answer.status_code == 422
    assert 'id="end-error"' in answer.text or 'id="start-error"' in answer.text
