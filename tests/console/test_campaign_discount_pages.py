"""The campaign form's discount kinds: buy X get Y, tiers, a gift and per-item
allocation, through the same schema and service as the API."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from promo.campaigns.models import Campaign
from tests.console.test_campaign_pages import FORM, created
from tests.support.console import Browser

BASE = {k: v for k, v in FORM.items() if not k.startswith("discount.")}


async def _latest(db: AsyncSession) -> Campaign:
    campaign = await db.scalar(select(Campaign).order_by(Campaign.id.desc()))
    assert campaign is not None
    return campaign


async def test_a_buy_x_get_y_campaign_from_the_form_reads_back_on_its_pages(
    marketer: Browser, db: AsyncSession
) -> None:
    form = {
        **BASE,
        "discount.type": "buy_x_get_y",
        "discount.allocation": "across",
        "discount.buy.categories": "tops",
        "discount.buy_quantity": "2",
        "discount.get.skus": "CAP-1\nCAP-2",
        "discount.get_quantity": "1",
        "discount.percent_off": "100",
        "discount.max_applications": "3",
    }
    public_id = await created(marketer, form)
    campaign = await _latest(db)
    assert campaign.discount_type == "buy_x_get_y"
    assert campaign.discount_terms is not None
    assert campaign.discount_terms["get"] == {"skus": ["CAP-1", "CAP-2"], "categories": []}
    detail = await marketer.get(f"/console/campaigns/{public_id}")
    assert "Buy 2, get 1 at 100% off (up to 3 times)" in detail.text
    edit = await marketer.get(f"/console/campaigns/{public_id}/edit")
    assert re.search(r'name="discount.get.skus"[^>]*>CAP-1\nCAP-2</textarea>', edit.text)


async def test_tiers_are_typed_one_per_line_and_a_wrong_one_is_named_beside_the_box(
    marketer: Browser, db: AsyncSession
) -> None:
    tiers = "50.00 5.00\n100.00 15 %"
    public_id = await created(
        marketer, {**BASE, "discount.type": "tiered", "discount.tiers": tiers}
    )
    campaign = await _latest(db)
    assert campaign.discount_terms == {
        "tiers": [
            {"threshold": 5000, "amount_off": 500, "percent_off": None},
            {"threshold": 10000, "amount_off": None, "percent_off": "15.00"},
        ]
    }
    edit = await marketer.get(f"/console/campaigns/{public_id}/edit")
    assert "50.00 5.00\n100.00 15 %" in edit.text
    await marketer.get("/console/campaigns/new")
    wrong = {**BASE, "discount.type": "tiered", "discount.tiers": "100.00 15 %\n50.00 5.00"}
    answer = await marketer.post("/console/campaigns/new", wrong)
    assert answer.status_code == 422
    beside = re.search(r'id="discount.tiers-error">([^<]*)</p>', answer.text)
    assert beside, answer.text
    assert "previous tier" in beside.group(1)


async def test_five_off_each_item_up_to_three_and_a_gift(
    marketer: Browser, db: AsyncSession
) -> None:
    each = {
        **BASE,
        "discount.type": "fixed_amount",
        "discount.amount_off": "5.00",
        "discount.allocation": "each",
        "discount.max_quantity": "3",
    }
    public_id = await created(marketer, each)
    campaign = await _latest(db)
    assert (campaign.discount_allocation, campaign.discount_max_quantity) == ("each", 3)
    detail = await marketer.get(f"/console/campaigns/{public_id}")
    assert "off each item (on at most 3 items)" in detail.text
    gift = {
        **BASE,
        "discount.type": "gift",
        "discount.sku": "TOTE-1",
        "discount.threshold": "50.00",
        "discount.quantity": "1",
    }
    gift_id = await created(marketer, gift)
    assert (await _latest(db)).discount_terms == {"sku": "TOTE-1", "threshold": 5000, "quantity": 1}
    assert "TOTE-1 free from" in (await marketer.get(f"/console/campaigns/{gift_id}")).text
