"""Marketers' campaign pages over HTTP: the same rules and refusals as the API."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from promo.audit import AuditEntry
from promo.auth.roles import Role
from promo.campaigns.models import Campaign
from tests.support.clock import FrozenClock
from tests.support.console import Browser, make_account

FORM = {
    "name": "Summer 20",
    "currency": "EUR",
    "status": "active",
    "starts_at": "2026-06-01T00:00",
    "ends_at": "2026-09-01T00:00",
    "timezone": "Europe/Paris",
    "code_prefix": "SUMMER",
    "discount.type": "percentage",
    "discount.percent_off": "20",
    "discount.max_discount": "50.00",
    "rules.min_subtotal": "20.00",
    "rules.exclude_skus": "GIFT-CARD\nGIFT-CARD-50",
    "limits.max_redemptions": "1000",
    "limits.budget": "10000",
    "max_aliases_per_affiliate": "1",
}


async def created(browser: Browser, form: dict[str, str]) -> str:
    await browser.get("/console/campaigns/new")
    answer = await browser.post("/console/campaigns/new", form)
    assert answer.status_code == 302, answer.text
    found = re.match(r"/console/campaigns/(cmp_\w+)\?notice=created", answer.headers["location"])
    assert found
    return found.group(1)


async def test_a_marketer_creates_a_campaign_from_the_form(
    marketer: Browser, db: AsyncSession
) -> None:
    public_id = await created(marketer, FORM)
    campaign = await db.scalar(select(Campaign).order_by(Campaign.id.desc()))
    assert campaign is not None
    assert campaign.name == "Summer 20"
    assert campaign.max_discount == 5000
    assert campaign.rules["min_subtotal"] == 2000
    assert campaign.rules["exclude_skus"] == ["GIFT-CARD", "GIFT-CARD-50"]
    assert campaign.budget == 1_000_000
    # 00:00 in Paris is 22:00 UTC the day before (summer time).
    assert campaign.starts_at.hour == 22
    detail = await marketer.get(f"/console/campaigns/{public_id}")
    assert detail.status_code == 200
    assert "Summer 20" in detail.text
    assert "Created." in (await marketer.get(f"/console/campaigns/{public_id}?notice=created")).text
    listed = await marketer.get("/console/campaigns")
    assert "Summer 20" in listed.text
    audit = await db.scalar(select(AuditEntry).order_by(AuditEntry.id.desc()))
    assert audit is not None
    assert (audit.action, audit.actor, audit.target) == ("campaign.create", "console", public_id)


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"discount.percent_off": "120"}, "discount.percent_off", "0 &lt; percent"),
        ({"rules.min_subtotal": "12.345"}, "rules.min_subtotal", "decimal places"),
        ({"limits.max_redemptions": "lots"}, "limits.max_redemptions", "whole number"),
        ({"currency": "euro"}, "currency", "matching regex"),
        ({"name": ""}, "name", "required"),
        ({"ends_at": "2026-05-01T00:00"}, "ends_at", "after"),
    ],
)
async def test_a_wrong_field_is_named_beside_it_and_nothing_is_written(
    marketer: Browser, db: AsyncSession, change: dict[str, str], field: str, message: str
) -> None:
    before = len(list(await db.scalars(select(Campaign.id))))
    await marketer.get("/console/campaigns/new")
    answer = await marketer.post("/console/campaigns/new", {**FORM, **change})
    assert answer.status_code == 422
    beside = re.search(
        rf'<p class="field-error" id="{re.escape(field)}-error">([^<]*)</p>', answer.text
    )
    assert beside, answer.text
    assert message in beside.group(1)
    assert 'value="Summer 20"' in answer.text or field == "name"
    assert len(list(await db.scalars(select(Campaign.id)))) == before


async def test_pause_resume_and_archive(marketer: Browser, db: AsyncSession) -> None:
    public_id = await created(marketer, FORM)
    await marketer.get(f"/console/campaigns/{public_id}")
    paused = await marketer.post(f"/console/campaigns/{public_id}/status", {"status": "paused"})
    assert paused.headers["location"].endswith("notice=paused")
    await marketer.get(f"/console/campaigns/{public_id}")
    assert (
        await marketer.post(f"/console/campaigns/{public_id}/status", {"status": "active"})
    ).status_code == 302
    await marketer.post(f"/console/campaigns/{public_id}/status", {"status": "archived"})
    refused = await marketer.post(f"/console/campaigns/{public_id}/status", {"status": "active"})
    assert refused.status_code == 409
    assert "text/html" in refused.headers["content-type"]
    campaign = await db.scalar(select(Campaign).order_by(Campaign.id.desc()))
    assert campaign is not None
    assert campaign.status == "archived"


async def test_the_edit_form_shows_the_campaign_and_saves_a_change(
    marketer: Browser, db: AsyncSession
) -> None:
    public_id = await created(marketer, FORM)
    form = await marketer.get(f"/console/campaigns/{public_id}/edit")
    assert 'value="50.00"' in form.text
    assert "GIFT-CARD-50" in form.text
    edited = {**FORM, "limits.budget": "", "discount.percent_off": "15"}
    edited.pop("status")
    saved = await marketer.post(f"/console/campaigns/{public_id}/edit", edited)
    assert saved.status_code == 302, saved.text
    campaign = await db.scalar(select(Campaign).order_by(Campaign.id.desc()))
    assert campaign is not None
    assert campaign.budget is None
    assert str(campaign.percent_off) in ("15", "15.00")


async def test_other_roles_do_not_find_the_campaign_pages(
    browser: Browser, db: AsyncSession, clock: FrozenClock
) -> None:
    await make_account(db, clock, "acc@example.com", Role.ACCOUNTANT)
    await browser.sign_in("acc@example.com")
    answer = await browser.get("/console/campaigns")
    assert answer.status_code == 404
    assert "text/html" in answer.headers["content-type"]


async def test_amounts_are_read_as_the_language_writes_them(
    marketer: Browser, db: AsyncSession
) -> None:
    await marketer.get("/console/account")
    await marketer.post("/console/account/language", {"locale": "fr"})
    await created(marketer, {**FORM, "discount.max_discount": "1 234,50", "limits.budget": ""})
    campaign = await db.scalar(select(Campaign).order_by(Campaign.id.desc()))
    assert campaign is not None
    assert campaign.max_discount == 123_450


async def test_a_marketer_says_how_an_automatic_promotion_stacks(
    marketer: Browser, db: AsyncSession
) -> None:
    stacking = {
        "automatic": "on",
        "stacking.combines_with.product": "on",
        "stacking.combines_with.shipping": "on",
        "stacking.priority": "5",
    }
    public_id = await created(marketer, {**FORM, **stacking})
    campaign = await db.scalar(select(Campaign).order_by(Campaign.id.desc()))
    assert campaign is not None
    assert campaign.automatic is True
    assert campaign.stacking == {
        "combines_with": {"order": False, "product": True, "shipping": True},
        "exclusive": False,
        "priority": 5,
    }
    detail = await marketer.get(f"/console/campaigns/{public_id}")
    assert "yes, without a code" in detail.text
    assert "with product, shipping discounts" in detail.text
    assert "priority 5" in detail.text
    # The edit form shows the terms; made exclusive, it stacks with nothing.
    form = await marketer.get(f"/console/campaigns/{public_id}/edit")
    assert re.search(r'name="stacking.combines_with.product"[^>]*checked', form.text)
    edited = {**FORM, **stacking, "stacking.exclusive": "on", "stacking.priority": "x"}
    edited.pop("status")
    refused = await marketer.post(f"/console/campaigns/{public_id}/edit", edited)
    assert refused.status_code == 422
    assert 'id="stacking.priority-error">must be a whole number' in refused.text
    edited["stacking.priority"] = ""
    saved = await marketer.post(f"/console/campaigns/{public_id}/edit", edited)
    assert saved.status_code == 302, saved.text
    await db.refresh(campaign)
    assert campaign.stacking["exclusive"] is True
    assert campaign.stacking["priority"] == 0
    assert "never (exclusive)" in (await marketer.get(f"/console/campaigns/{public_id}")).text
