"""An affiliate, in Chromium: invited by a marketer, signs in from the link,
gets a code on an open campaign, and sees the sale a checkout makes with it
through the API, without the customer's e-mail."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

import httpx
from playwright.async_api import expect

from tests.browser.conftest import Console, Person

MakePerson = Callable[..., Coroutine[Any, Any, Person]]
PASSWORD = "a long password for Bea"
CUSTOMER = "jane.shopper@example.org"


async def test_an_invited_affiliate_gets_a_code_and_sees_its_sale(
    person: MakePerson, console: Console
) -> None:
    mia = await person("marketer")
    page = mia.page
    await mia.sign_in(*console.accounts["marketer"])
    await page.get_by_role("link", name="Affiliates").click()
    await page.get_by_label("Name").fill("Bea Creator")
    await page.get_by_label("Contact e-mail").fill("bea@example.com")
    await page.get_by_role("button", name="Create affiliate").click()
    await expect(page.get_by_role("heading", name="Bea Creator")).to_be_visible()
    await mia.shoot("affiliate")
    await page.get_by_label("Their sign-in e-mail").fill("bea@example.com")
    await page.get_by_role("button", name="Create invitation link").click()
    link = await page.locator("code.secret").inner_text()
    assert "/console/invitations/" in link
    await mia.shoot("affiliate-invitation")

    bea = await person("affiliate")
    await bea.page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    await bea.page.goto(link)
    await expect(bea.page.get_by_role("heading", name="Welcome to promo")).to_be_visible()
    await bea.shoot("invitation")
    await bea.page.get_by_label("New password").fill(PASSWORD)
    await bea.page.get_by_label("Repeat the password").fill(PASSWORD)
    await bea.page.get_by_role("button", name="Set password and sign in").click()
    await expect(bea.page.get_by_role("heading", name="My codes")).to_be_visible()
    campaign = bea.page.locator("section.card", has_text="Summer demo")
    await campaign.get_by_label("Channel (optional)").fill("instagram")
    await campaign.get_by_role("button", name="Get a code").click()
    await expect(bea.page.get_by_role("status")).to_contain_text("Your code is ready")
    code = await bea.page.locator("code.secret").inner_text()
    await bea.page.get_by_role("link", name="My codes").first.click()
    copy = bea.page.get_by_role("button", name=f"Copy {code}")
    await copy.click()
    await expect(copy).to_have_text("Copied")
    assert await bea.page.evaluate("navigator.clipboard.readText()") == code
    await bea.shoot("codes")

    # A checkout redeems the code for a customer, through the API.
    checkout = {"Authorization": f"Bearer {console.keys['checkout']}"}
    async with httpx.AsyncClient(base_url=console.url, timeout=30) as client:
        sold = await client.post(
            "/v1/redemptions",
            json={
                "code": code.lower(),
                "order_id": "ord-bea-1",
                "customer_email": CUSTOMER,
                "cart": {
                    "currency": "EUR",
                    "items": [{"sku": "DRESS", "quantity": 1, "unit_price": 12_000}],
                },
            },
            headers={**checkout, "Idempotency-Key": "bea-1"},
        )
    assert sold.status_code == 201, sold.text

    await bea.page.get_by_role("link", name="Sales").click()
    await expect(bea.page.get_by_role("cell", name=code)).to_be_visible()
    await bea.shoot("sales")
    await bea.page.get_by_role("link", name="Earnings").click()
    await bea.shoot("earnings")
    for path in ("/console/me/codes", "/console/me/sales", "/console/me/earnings"):
        await bea.open(path)
        html = await bea.page.content()
        assert CUSTOMER not in html.lower(), path
    # Another affiliate's page: Anna's demo code is not Bea's.
    await bea.open("/console/me/codes/ANNA10")
    await expect(bea.page.get_by_role("heading", name="Not found")).to_be_visible()
    assert bea.script_errors == []
    assert mia.script_errors == []
