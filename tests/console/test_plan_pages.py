"""Commission plans and conversions in the console over HTTP: the same functions
as /v1/commission-plans and /v1/conversions, errors by field, French too."""

from __future__ import annotations

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from promo.affiliates.models import Affiliate
from promo.auth.roles import Role
from promo.ids import Kind, encode
from promo.plans.models import CommissionPlan
from tests.support.api import create_affiliate, create_campaign, create_code
from tests.support.clock import FrozenClock
from tests.support.console import Browser, signed_in
from tests.support.factories import bearer, make_key

NEW = {
    "name": "Partners",
    "currency": "EUR",
    "timezone": "Europe/Paris",
    "percent": "5",
    "fixed": "1.00",
    "category_rates": "shoes 12\nsale 2.5",
    "tiers.basis": "sales",
    "tiers.levels": "10 7.5\n50 9",
    "bonus.basis": "revenue",
    "bonus.threshold": "1000.00",
    "bonus.amount": "50.00",
    "action_fees": "lead 2.00",
}


async def test_a_marketer_creates_and_revises_a_plan(marketer: Browser, db: AsyncSession) -> None:
    await marketer.get("/console/plans")
    made = await marketer.post("/console/plans", NEW)
    assert made.status_code == 302, made.text
    plan = await db.scalar(select(CommissionPlan).where(CommissionPlan.name == "Partners"))
    assert plan is not None
    assert plan.terms["fixed"] == 100
    assert plan.terms["category_rates"] == {"shoes": "12.00", "sale": "2.50"}
    assert plan.terms["tiers"]["levels"] == [
        {"threshold": 10, "percent": "7.50"},
        {"threshold": 50, "percent": "9.00"},
    ]
    assert plan.terms["bonus"] == {"basis": "revenue", "threshold": 100_000, "amount": 5000}
    assert plan.terms["action_fees"] == {"lead": 200}
    shown = await marketer.get(made.headers["location"])
    assert "shoes 12" in shown.text  # the edit form shows it as typed
    revised = await marketer.post(
        made.headers["location"], {**NEW, "category_rates": "", "percent": "6"}
    )
    assert revised.status_code == 302, revised.text
    await db.refresh(plan)
    assert (plan.revision, plan.terms["category_rates"], plan.terms["percent"]) == (2, {}, "6.00")
    page = await marketer.get(made.headers["location"])
    assert page.text.count('<td class="num">2</td>') == 1  # the revisions table


async def test_bad_terms_are_named_beside_their_field_and_nothing_is_written(
    marketer: Browser, db: AsyncSession
) -> None:
    await marketer.get("/console/plans")
    for field, value in (
        ("tiers.levels", "10 7.5\n5 9"),
        ("category_rates", "shoes many"),
        ("timezone", "Mars/Olympus"),
        ("percent", "5.555"),
    ):
        bad = await marketer.post("/console/plans", {**NEW, field: value})
        assert bad.status_code == 422, (field, bad.text)
        assert f'id="{field}-error"' in bad.text or 'role="alert"' in bad.text, field
    assert await db.scalar(select(func.count()).select_from(CommissionPlan)) == 0


async def test_a_plan_is_chosen_on_the_affiliate_form(
    marketer: Browser, db: AsyncSession, client: httpx.AsyncClient, clock: FrozenClock
) -> None:
    await marketer.get("/console/plans")
    await marketer.post("/console/plans", NEW)
    plan = await db.scalar(select(CommissionPlan))
    assert plan is not None
    public = encode(Kind.COMMISSION_PLAN, plan.id)
    listing = await marketer.get("/console/affiliates")
    assert f'value="{public}"' in listing.text
    made = await marketer.post(
        "/console/affiliates",
        {
            "name": "Anna",
            "email": "anna@example.com",
            "commission.plan_id": public,
            "holding_days": "0",
        },
    )
    assert made.status_code == 302, made.text
    anna = await db.scalar(select(Affiliate).where(Affiliate.name == "Anna"))
    assert anna is not None
    assert anna.commission_plan_id == plan.id
    both = await marketer.post(
        made.headers["location"],
        {
            "name": "Anna",
            "email": "anna@example.com",
            "commission.plan_id": public,
            "commission.percent": "5",
            "holding_days": "0",
        },
    )
    assert both.status_code == 422
    assert 'id="commission.plan_id-error"' in both.text


async def test_conversions_are_listed_rejected_and_an_affiliate_sees_its_own(
    marketer: Browser,
    other_browser: Browser,
    db: AsyncSession,
    client: httpx.AsyncClient,
    clock: FrozenClock,
) -> None:
    headers = bearer(await make_key(db, Role.MARKETER, now=clock()))
    checkout = bearer(await make_key(db, Role.CHECKOUT, now=clock()))
    plan = await client.post(
        "/v1/commission-plans",
        json={"name": "Leads", "currency": "EUR", "action_fees": {"lead": 250}},
        headers=headers,
    )
    campaign = await create_campaign(client, headers, commission={"plan_id": plan.json()["id"]})
    anna = await create_affiliate(client, headers, "Anna")
    await create_code(client, headers, campaign["id"], "ANNA", affiliate_id=anna["id"])
    for external_id in ("L-1", "L-2"):
        made = await client.post(
            "/v1/conversions",
            json={"kind": "lead", "external_id": external_id, "code": "ANNA"},
            headers={**checkout, "Idempotency-Key": external_id},
        )
        assert made.status_code == 201, made.text
    listing = await marketer.get("/console/conversions")
    assert "L-1" in listing.text
    assert "L-2" in listing.text
    first = made.json()["id"]
    rejected = await marketer.post(f"/console/conversions/{first}/reject", {"reason": "fake"})
    assert rejected.status_code == 302
    after = await marketer.get(rejected.headers["location"])
    assert "fake" in after.text
    assert "The conversion is rejected" in after.text
    affiliate_id = await db.scalar(select(Affiliate.id).where(Affiliate.name == "Anna"))
    viewer = await signed_in(
        other_browser, db, clock, "anna@example.com", Role.AFFILIATE, affiliate_id=affiliate_id
    )
    own = await viewer.get("/console/me/conversions")
    assert own.status_code == 200
    assert own.text.count("<td>lead</td>") == 2
    assert "fake" not in own.text  # why a conversion was rejected is the marketer's
    forbidden = await viewer.get("/console/conversions")
    assert forbidden.status_code in (403, 404)
    french = await viewer.get("/console/me/conversions", headers={"Accept-Language": "fr"})
    assert "rejetée" in french.text


async def test_a_marketer_creates_a_referral_program_in_the_console(
    marketer: Browser, db: AsyncSession, client: httpx.AsyncClient, clock: FrozenClock
) -> None:
    from promo.campaigns.models import Campaign

    await marketer.get("/console/campaigns/new")
    form = {
        "name": "Bring a friend",
        "currency": "EUR",
        "status": "active",
        "kind": "referral",
        "starts_at": "2026-06-01T00:00",
        "code_prefix": "FRIEND",
        "discount.type": "percentage",
        "discount.percent_off": "15",
        "max_aliases_per_affiliate": "1",
    }
    refused = await marketer.post("/console/campaigns/new", form)
    assert refused.status_code == 422
    assert 'id="referral.reward_campaign_id-error"' in refused.text
    made = await marketer.post(
        "/console/campaigns/new",
        {**form, "referral.reward_credit": "5.00", "referral.holding_days": "7"},
    )
    assert made.status_code == 302, made.text
    campaign = await db.scalar(select(Campaign).where(Campaign.name == "Bring a friend"))
    assert campaign is not None
    assert (
        campaign.kind,
        campaign.referral["reward_credit"],
        campaign.referral["holding_days"],
    ) == (
        "referral",
        500,
        7,
    )
    assert campaign.rules["first_order_only"] is True
    shown = await marketer.get(made.headers["location"])
    assert "a credit of" in shown.text
    url = made.headers["location"].split("?")[0]
    edit = await marketer.get(f"{url}/edit")
    assert 'value="7"' in edit.text
    saved = await marketer.post(
        f"{url}/edit",
        {
            **form,
            "_kind": "referral",
            "rules.first_order_only": "on",
            "referral.reward_credit": "6.00",
        },
    )
    assert saved.status_code == 302, saved.text
    await db.refresh(campaign)
    assert campaign.referral["reward_credit"] == 600
