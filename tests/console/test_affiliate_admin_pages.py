"""Marketers' affiliate pages over HTTP: create, plan, deactivate, through the API's functions."""

from __future__ import annotations

import re

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from promo.affiliates.models import Affiliate
from promo.audit import AuditEntry
from tests.support.console import Browser

NEW = {
    "name": "Anna",
    "email": "anna@example.com",
    "commission.percent": "12.5",
    "holding_days": "14",
    "payout_thresholds": "EUR 50.00\nusd 20",
}


async def test_a_marketer_creates_an_affiliate_with_its_plan(
    marketer: Browser, db: AsyncSession
) -> None:
    await marketer.get("/console/affiliates")
    made = await marketer.post("/console/affiliates", NEW)
    assert made.status_code == 302, made.text
    affiliate = await db.scalar(select(Affiliate).where(Affiliate.name == "Anna"))
    assert affiliate is not None
    assert affiliate.payout_thresholds == {"EUR": 5000, "USD": 2000}
    assert affiliate.holding_days == 14
    assert str(affiliate.commission_percent).rstrip("0").rstrip(".") == "12.5"
    shown = await marketer.get(made.headers["location"])
    assert "EUR 50.00" in shown.text
    assert "Anna" in (await marketer.get("/console/affiliates")).text


async def test_the_api_key_is_shown_once_and_works(
    marketer: Browser, db: AsyncSession, client: httpx.AsyncClient
) -> None:
    await marketer.get("/console/affiliates")
    made = await marketer.post("/console/affiliates", {**NEW, "create_key": "on"})
    assert made.status_code == 200
    key = re.search(r'<code class="secret">([^<]+)</code>', made.text)
    assert key
    me = await client.get("/v1/me", headers={"Authorization": f"Bearer {key.group(1)}"})
    assert me.status_code == 200
    assert me.json()["name"] == "Anna"
    again = await marketer.get(f"/console/affiliates/{me.json()['id']}")
    assert key.group(1) not in again.text


async def test_a_bad_threshold_or_commission_is_named_and_nothing_is_written(
    marketer: Browser, db: AsyncSession
) -> None:
    await marketer.get("/console/affiliates")
    bad = await marketer.post("/console/affiliates", {**NEW, "payout_thresholds": "EUR lots"})
    assert bad.status_code == 422
    assert 'id="payout_thresholds-error"' in bad.text
    worse = await marketer.post("/console/affiliates", {**NEW, "commission.percent": "250"})
    assert worse.status_code == 422
    assert 'id="commission.percent-error"' in worse.text
    assert await db.scalar(select(Affiliate).where(Affiliate.name == "Anna")) is None


async def test_editing_the_plan_and_deactivating(marketer: Browser, db: AsyncSession) -> None:
    await marketer.get("/console/affiliates")
    made = await marketer.post("/console/affiliates", NEW)
    page = made.headers["location"].split("?")[0]
    await marketer.get(page)
    saved = await marketer.post(page, {**NEW, "commission.percent": "", "holding_days": "0"})
    assert saved.status_code == 302, saved.text
    affiliate = await db.scalar(select(Affiliate).where(Affiliate.name == "Anna"))
    assert affiliate is not None
    await db.refresh(affiliate)
    assert affiliate.commission_percent is None
    assert affiliate.holding_days == 0
    await marketer.get(page)
    await marketer.post(f"{page}/active", {"active": "false"})
    await db.refresh(affiliate)
    assert affiliate.active is False
    actions = list(await db.scalars(select(AuditEntry.action).where(AuditEntry.actor == "console")))
    assert actions[-3:] == ["affiliate.create", "affiliate.update", "affiliate.update"]
