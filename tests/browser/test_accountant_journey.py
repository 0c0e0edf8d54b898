"""An accountant, in Chromium: filters the ledger to an affiliate, exports
what is filtered, previews a payout run and confirms it, on a real server."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Coroutine
from typing import Any

import httpx
from playwright.async_api import expect

from tests.browser.conftest import Console, Person

MakePerson = Callable[..., Coroutine[Any, Any, Person]]


async def test_an_accountant_exports_the_ledger_and_pays_out(
    person: MakePerson, console: Console
) -> None:
    # Anna's commissions are payable at once, and a checkout sells with her code.
    marketer = {"Authorization": f"Bearer {console.keys['marketer']}"}
    checkout = {"Authorization": f"Bearer {console.keys['checkout']}"}
    async with httpx.AsyncClient(base_url=console.url, timeout=30) as client:
        anna = (await client.get("/v1/affiliates", headers=marketer)).json()["items"][0]
        patched = await client.patch(
            f"/v1/affiliates/{anna['id']}", json={"holding_days": 0}, headers=marketer
        )
        assert patched.status_code == 200, patched.text
        for n, price in enumerate((100_000, 60_000)):
            sold = await client.post(
                "/v1/redemptions",
                json={
                    "code": "ANNA10",
                    "order_id": f"ord-anna-{n}",
                    "customer_email": f"buyer{n}@example.org",
                    "cart": {
                        "currency": "EUR",
                        "items": [{"sku": "COAT", "quantity": 1, "unit_price": price}],
                    },
                },
                headers={**checkout, "Idempotency-Key": f"anna-{n}"},
            )
            assert sold.status_code == 201, sold.text

    ada = await person("accountant")
    page = ada.page
    await ada.sign_in(*console.accounts["accountant"])
    await expect(page.get_by_role("heading", name="Ledger")).to_be_visible()
    await ada.shoot("ledger")
    await page.get_by_label("Affiliate").fill(anna["id"])
    await page.get_by_label("Kind").select_option("redemption")
    await page.get_by_role("button", name="Filter").click()
    rows = page.locator("table tbody tr")
    await expect(rows).to_have_count(2)
    await ada.shoot("ledger-filtered")
    async with page.expect_download() as download_info:
        await page.get_by_role("link", name="Export CSV").click()
    download = await download_info.value
    saved = await download.path()
    exported = list(csv.DictReader(io.StringIO(saved.read_text())))
    assert len(exported) == 2
    assert {row["kind"] for row in exported} == {"redemption"}

    await page.get_by_role("link", name="Payouts").click()
    await page.get_by_role("link", name="Run payouts").click()
    await page.get_by_role("button", name="Preview").click()
    await expect(page.get_by_role("cell", name=anna["id"]).first).to_be_visible()
    await ada.shoot("payout-preview")
    confirm = page.locator("form", has=page.get_by_role("button", name="Confirm and pay"))
    sent = {
        name: await confirm.locator(f"input[name={name}]").input_value()
        for name in ("_csrf_token", "as_of", "idempotency_key")
    }
    await page.get_by_role("button", name="Confirm and pay").click()
    await expect(page.get_by_role("status")).to_have_text("Payouts created.")
    await ada.shoot("payouts")
    await page.locator("td a", has_text="pay_").first.click()
    await expect(page.get_by_role("heading", name="Payout")).to_be_visible()
    await ada.shoot("payout")
    # The same form sent again (a double click, a resubmission) pays nothing more.
    again = await page.request.post(console.url + "/console/payouts/run", form=sent)
    assert again.ok, await again.text()
    await ada.open("/console/payouts/run")
    await page.get_by_role("button", name="Preview").click()
    await expect(page.get_by_role("status")).to_contain_text("Nothing is due")
    async with httpx.AsyncClient(base_url=console.url, timeout=30) as client:
        accountant = {"Authorization": f"Bearer {console.keys['accountant']}"}
        payouts = (await client.get("/v1/payouts", headers=accountant)).json()["items"]
    assert len(payouts) == 1
    assert ada.script_errors == []
