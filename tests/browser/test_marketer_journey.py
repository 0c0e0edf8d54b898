"""A marketer, in Chromium: creates SUMMER20, starts a 10,000-code batch and
watches it finish, imports codes from a file, on a real server and worker
over PostgreSQL."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from playwright.async_api import expect

from tests.browser.conftest import Console, Person

MakePerson = Callable[..., Coroutine[Any, Any, Person]]


async def test_a_marketer_puts_anna_on_a_commission_plan_and_rejects_a_fake_lead(
    person: MakePerson, console: Console
) -> None:
    """Runs first: the demo's ANNA10 is still live (the next test archives its campaign)."""
    mia = await person("marketer")
    page = mia.page
    await mia.open("/console/")
    await mia.sign_in(*console.accounts["marketer"])
    await page.get_by_role("link", name="Commission plans").click()
    await page.get_by_label("Name").fill("Influencers")
    await page.get_by_label("Currency", exact=True).fill("EUR")
    await page.get_by_label("Timezone").fill("Europe/Paris")
    await page.get_by_label("Base rate, percent").fill("5")
    await page.get_by_label("Rates per category").fill("shoes 15")
    await page.get_by_label("Volume tiers").fill("20 7\n10 6")  # not increasing: refused
    await page.get_by_label("Fees per conversion").fill("lead 2.00")
    await page.get_by_role("button", name="Create plan").click()
    await expect(page.locator("[id='tiers.levels-error']")).to_contain_text("increase")
    await mia.shoot("plan-form-error")
    await page.get_by_label("Volume tiers").fill("10 6\n20 7")
    await page.get_by_role("button", name="Create plan").click()
    await expect(page.get_by_role("status")).to_have_text("Created.")
    await expect(page.get_by_role("heading", name="Influencers")).to_be_visible()
    await mia.shoot("plan")

    await page.get_by_role("link", name="Affiliates", exact=True).first.click()
    await page.get_by_role("link", name="Anna Demo").click()
    await page.get_by_label("Commission percent").fill("")
    await page.get_by_label("Its own commission plan").select_option(label="Influencers (EUR)")
    await page.get_by_role("button", name="Save").click()
    await expect(page.get_by_role("status")).to_have_text("Saved.")

    # Anna's next sale is priced by the plan: shoes 10000 - 20% = 8000 net, at 15%.
    checkout = {"Authorization": f"Bearer {console.keys['checkout']}"}
    async with httpx.AsyncClient(base_url=console.url, timeout=30) as client:
        sold = await client.post(
            "/v1/redemptions",
            json={
                "code": "ANNA10",
                "order_id": "ord-plan-1",
                "customer_id": "cus-plan-1",
                "cart": {
                    "currency": "EUR",
                    "items": [
                        {"sku": "SHOE", "quantity": 1, "unit_price": 10000, "categories": ["shoes"]}
                    ],
                },
            },
            headers={**checkout, "Idempotency-Key": "plan-sale-1"},
        )
        assert sold.status_code == 201, sold.text
        assert sold.json()["commission"] == 1200
        lead = await client.post(
            "/v1/conversions",
            json={"kind": "lead", "external_id": "lead-fake-1", "code": "ANNA10"},
            headers={**checkout, "Idempotency-Key": "plan-lead-1"},
        )
        assert lead.status_code == 201, lead.text
        assert lead.json()["commission"] == 200

    await page.get_by_role("link", name="Conversions").click()
    row = page.locator("tr", has_text="lead-fake-1")
    await expect(row).to_contain_text("2.00")
    await mia.shoot("conversions")
    await row.get_by_label("Reason").fill("fake lead")
    await row.get_by_role("button", name="Reject").click()
    await expect(page.get_by_role("status")).to_contain_text("rejected")
    await expect(page.locator("tr", has_text="lead-fake-1")).to_contain_text("fake lead")
    assert mia.script_errors == []


async def test_a_marketer_launches_summer20_with_a_batch_of_10000_codes(
    person: MakePerson, console: Console
) -> None:
    mia = await person("marketer")
    page = mia.page
    await mia.open("/console/")
    await expect(page.get_by_role("heading", name="Sign in to promo")).to_be_visible()
    await mia.shoot("sign-in")
    await mia.sign_in(*console.accounts["marketer"])
    await expect(page.get_by_role("heading", name="Campaigns")).to_be_visible()
    await mia.shoot("campaigns")

    # The demo's campaign holds SUMMER20: archiving it releases its codes.
    await page.get_by_role("link", name="Summer demo").click()
    await page.get_by_role("button", name="Archive").click()
    await expect(page.get_by_role("status")).to_contain_text("archived")
    await page.get_by_role("link", name="Campaigns", exact=True).first.click()

    await page.get_by_role("link", name="New campaign").click()
    await page.get_by_label("Name").fill("Summer 20")
    await page.get_by_label("Currency", exact=True).fill("EUR")
    await page.get_by_label("Status").select_option("active")
    today = datetime.now(UTC).date()
    await page.get_by_label("Starts at").fill(f"{today - timedelta(days=1)}T00:00")
    await page.get_by_label("Timezone").fill("Europe/Paris")
    await page.get_by_label("Percent off").fill("20")
    await page.get_by_label("Minimum subtotal").fill("20.00")
    await page.get_by_label("Budget (discounts granted)").fill("5000")
    await page.get_by_label("Ends at").fill(f"{today - timedelta(days=9)}T00:00")  # refused
    await mia.shoot("campaign-form")
    await page.get_by_role("button", name="Create campaign").click()
    await expect(page.locator("#ends_at-error")).to_contain_text("after")
    await expect(page.get_by_label("Name")).to_have_value("Summer 20")
    await mia.shoot("campaign-form-error")
    await page.get_by_label("Ends at").fill(f"{today + timedelta(days=90)}T00:00")
    await page.get_by_role("button", name="Create campaign").click()
    await expect(page.get_by_role("status")).to_have_text("Created.")
    await expect(page.get_by_role("heading", name="Summer 20")).to_be_visible()
    await mia.shoot("campaign")
    campaign_url = page.url

    await page.get_by_role("link", name="Codes", exact=True).click()
    await page.get_by_label("Code", exact=True).fill("SUMMER20")
    await page.get_by_role("button", name="Create code").click()
    await expect(page.locator("td code", has_text="SUMMER20")).to_be_visible()
    await mia.shoot("codes")

    await page.goto(campaign_url)
    await page.get_by_role("link", name="Code batches").click()
    await page.get_by_label("How many codes").fill("10000")
    await page.get_by_label("Pattern").first.fill("S20-########")
    await page.get_by_role("button", name="Generate").click()
    bar = page.locator("#batch-progress")
    await expect(bar).to_be_visible()
    await mia.shoot("batch-running")
    # The page follows the job (its script polls, then reloads when it is done).
    await expect(page.locator("#batch-status")).to_have_text("done", timeout=120_000)
    await expect(bar).to_have_attribute("value", "10000")
    await mia.shoot("batch-done")
    link = page.get_by_role("link", name="Download the codes (CSV)")
    href = await link.get_attribute("href")
    assert href is not None
    cookies = {c["name"]: c["value"] for c in await page.context.cookies()}
    async with httpx.AsyncClient(base_url=console.url, cookies=cookies, timeout=30) as client:
        download = await client.get(href)
    rows = list(csv.DictReader(io.StringIO(download.text)))
    assert len(rows) == 10_000
    assert len({row["code"] for row in rows}) == 10_000
    assert all(re.fullmatch(r"S20-\w{8}", row["code"]) for row in rows[:100])

    # Win-back codes for a small list of customers, uploaded as CSV: one code each.
    await page.goto(campaign_url)
    await page.get_by_role("link", name="Code batches").click()
    upload = page.locator("form", has=page.get_by_label("Customers (CSV)"))
    await upload.get_by_label("Customers (CSV)").set_input_files(
        files=[
            {
                "name": "winback.csv",
                "mimeType": "text/csv",
                "buffer": b"email\nwinback-one@example.com\nwinback-cus-2\n",
            }
        ]
    )
    await upload.get_by_label("Pattern").fill("WB-######")
    await upload.get_by_label("Valid for").fill("P30D")
    await upload.get_by_role("button", name="Issue the codes").click()
    await expect(page.locator("#batch-status")).to_have_text("done")
    await expect(page.locator("#batch-progress")).to_have_attribute("value", "2")
    await mia.shoot("customer-codes")
    listed = page.get_by_role("link", name="Download the customers with their codes (CSV)")
    href = await listed.get_attribute("href")
    assert href is not None
    async with httpx.AsyncClient(base_url=console.url, cookies=cookies, timeout=30) as client:
        download = await client.get(href)
    issued = list(csv.DictReader(io.StringIO(download.text)))
    assert [row["customer"] for row in issued] == ["winback-one@example.com", "winback-cus-2"]
    assert all(re.fullmatch(r"WB-\w{6}", row["code"]) for row in issued)

    # Codes of the old system come in from a file; its refused lines are listed.
    await page.goto(campaign_url)
    await page.get_by_role("link", name="Codes", exact=True).click()
    await page.get_by_role("link", name="Import codes from a file").click()
    await page.get_by_label("CSV file").set_input_files(
        files=[
            {
                "name": "old-system.csv",
                "mimeType": "text/csv",
                "buffer": b"code,max_redemptions\nOLD-ANNA,1\nold anna,1\nOLD-BEN,\n",
            }
        ]
    )
    await page.get_by_role("button", name="Import", exact=True).click()
    await expect(page.locator("#import-status")).to_have_text("done", timeout=60_000)
    await expect(page.locator("#import-imported")).to_have_text("2")
    await expect(page.locator("#import-errors")).to_contain_text("the same code as line 2")
    await mia.shoot("import-done")

    # The code the marketer made works at the checkout, through the API.
    checkout = {"Authorization": f"Bearer {console.keys['checkout']}"}
    async with httpx.AsyncClient(base_url=console.url, timeout=30) as client:
        validated = await client.post(
            "/v1/validations",
            json={
                "code": "summer20",
                "cart": {
                    "currency": "EUR",
                    "items": [{"sku": "A", "quantity": 1, "unit_price": 10000}],
                },
            },
            headers=checkout,
        )
    assert validated.status_code == 200, validated.text
    assert validated.json()["valid"] is True, validated.text

    # A shopper paying holds it: the marketer sees the hold on its own page.
    async with httpx.AsyncClient(base_url=console.url, timeout=30) as client:
        held = await client.post(
            "/v1/reservations",
            json={
                "code": "summer20",
                "cart": {
                    "currency": "EUR",
                    "items": [{"sku": "A", "quantity": 1, "unit_price": 10000}],
                },
            },
            headers={**checkout, "Idempotency-Key": "journey-hold-1"},
        )
    assert held.status_code == 201, held.text
    await page.goto(campaign_url)
    await page.get_by_role("link", name="Held reservations").click()
    await expect(page.get_by_role("heading", name="Held reservations of Summer 20")).to_be_visible()
    await expect(page.locator("td code", has_text=held.json()["id"])).to_be_visible()
    await mia.shoot("reservations")

    await page.goto(campaign_url)
    await page.get_by_role("button", name="Pause").click()
    await expect(page.get_by_role("status")).to_have_text("The campaign is paused.")
    await page.get_by_role("link", name="Performance").click()
    await expect(page.get_by_role("heading", name="Performance of Summer 20")).to_be_visible()
    await mia.shoot("performance")
    assert mia.script_errors == []


async def test_signing_in_and_moving_around_work_from_the_keyboard(
    person: MakePerson, console: Console
) -> None:
    ada = await person("keyboard")
    page = ada.page
    await ada.open("/console/login")
    email, password = console.accounts["accountant"]
    await page.keyboard.press("Tab")
    await expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    await page.get_by_label("E-mail").focus()
    await page.keyboard.type(email)
    await page.keyboard.press("Tab")
    await expect(page.get_by_label("Password")).to_be_focused()
    await page.keyboard.type(password)
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", name="Ledger")).to_be_visible()
    # The menu is reachable with Tab and followed with Enter.
    payouts = page.get_by_role("link", name="Payouts")
    for _ in range(10):
        await page.keyboard.press("Tab")
        if await payouts.evaluate("element => element === document.activeElement"):
            break
    await expect(payouts).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", name="Payouts")).to_be_visible()


async def test_a_marketer_creates_a_buy_two_get_one_free_campaign(
    person: MakePerson, console: Console
) -> None:
    mia = await person("marketer")
    page = mia.page
    await mia.sign_in(*console.accounts["marketer"])
    await page.get_by_role("link", name="New campaign").click()
    await page.get_by_label("Name").fill("Two tops, one free")
    await page.get_by_label("Currency", exact=True).fill("EUR")
    await page.get_by_label("Status").select_option("active")
    today = datetime.now(UTC).date()
    await page.get_by_label("Starts at").fill(f"{today - timedelta(days=1)}T00:00")
    await page.get_by_label("Type").select_option("buy_x_get_y")
    await page.get_by_label("Buy: these categories").fill("tops")
    await page.get_by_label("Buy (items)").fill("2")
    await page.get_by_label("Get: these categories").fill("tops")
    await page.get_by_label("Get (items)").fill("1")
    await page.get_by_label("Percent off").fill("100")
    await page.get_by_role("button", name="Create campaign").click()
    await expect(page.get_by_role("status")).to_have_text("Created.")
    await expect(page.get_by_text("Buy 2, get 1 at 100% off")).to_be_visible()
    await mia.shoot("campaign-buy-x-get-y")
    assert mia.script_errors == []
