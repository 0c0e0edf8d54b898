"""The affiliate's own console pages over HTTP: its codes, sales, earnings and
payouts, nobody else's, never a customer's data, and the same figures as the
affiliate's API key is answered."""

from __future__ import annotations

import html
import re
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from promo.auth.roles import Role
from promo.console.i18n import Formats
from promo.ids import Kind, decode
from tests.support.api import create_affiliate, create_campaign, create_code, rollback, run_payouts
from tests.support.api import sell as api_sell
from tests.support.clock import FrozenClock
from tests.support.console import Browser, signed_in
from tests.support.factories import bearer, make_key

CUSTOMER_ID = "cus_private_4711"
CUSTOMER_EMAIL = "Private.Shopper+promo@example.org"
PAGES = ["/console/me/codes", "/console/me/sales", "/console/me/earnings"]
BAR_TITLE = re.compile(r'<rect class="bar"[^>]*><title>([^<]*)</title></rect>')
EN = Formats("en")


@pytest.fixture
async def world(client: httpx.AsyncClient, db: AsyncSession, clock: FrozenClock) -> dict[str, Any]:
    """Anna (10 holding days) with ANNA10 and Bob with BOB10 on an open EUR campaign
    (10 % commission); API keys for each role and for both affiliates."""
    keys = {role: bearer(await make_key(db, role, now=clock())) for role in Role}
    campaign = await create_campaign(
        client,
        keys[Role.MARKETER],
        ends_at=None,
        open_to_affiliates=True,
        commission={"percent": 10},
    )
    anna = await create_affiliate(
        client, keys[Role.MARKETER], "Anna", holding_days=10, create_key=True
    )
    bob = await create_affiliate(
        client, keys[Role.MARKETER], "Bob", holding_days=0, create_key=True
    )
    for name, affiliate in (("ANNA10", anna), ("BOB10", bob)):
        await create_code(
            client, keys[Role.MARKETER], campaign["id"], name, affiliate_id=affiliate["id"]
        )
    return {
        "keys": keys,
        "campaign": campaign,
        "anna": anna,
        "bob": bob,
        "anna_key": bearer(anna["key"]),
        "bob_key": bearer(bob["key"]),
    }


async def sell(
    client: httpx.AsyncClient, world: dict[str, Any], code: str, amount: int, **body: Any
) -> dict[str, Any]:
    return await api_sell(client, world["keys"][Role.CHECKOUT], code, amount, **body)


async def affiliate_browser(
    browser: Browser, db: AsyncSession, clock: FrozenClock, affiliate: dict[str, Any]
) -> Browser:
    """``browser`` signed in to a console account bound to ``affiliate`` (after the
    clock moved: a session ends when idle)."""
    email = f"console.{affiliate['name'].lower()}@example.com"
    bound = decode(Kind.AFFILIATE, affiliate["id"])
    return await signed_in(browser, db, clock, email, Role.AFFILIATE, affiliate_id=bound)


def text_of(answer: httpx.Response) -> str:
    return html.unescape(answer.text)


async def test_an_affiliate_sees_its_own_codes_and_sales_and_nobody_elses(
    browser: Browser,
    other_browser: Browser,
    client: httpx.AsyncClient,
    db: AsyncSession,
    clock: FrozenClock,
    world: dict[str, Any],
) -> None:
    mine = await sell(client, world, "ANNA10", 10000, order_id="ord_anna_1")
    await sell(client, world, "BOB10", 20000, order_id="ord_bob_1")
    clock.advance(days=1)
    assert (await run_payouts(client, world["keys"][Role.ACCOUNTANT], clock())).status_code == 201
    bob_payouts = await client.get(
        "/v1/payouts",
        params={"affiliate_id": world["bob"]["id"]},
        headers=world["keys"][Role.ACCOUNTANT],
    )
    (bob_payout,) = bob_payouts.json()["items"]
    anna = await affiliate_browser(browser, db, clock, world["anna"])

    codes = await anna.get("/console/me/codes")
    assert codes.status_code == 200
    assert 'data-copy="ANNA10"' in codes.text
    assert "BOB10" not in codes.text
    assert world["campaign"]["name"] in codes.text

    sales = text_of(await anna.get("/console/me/sales"))
    assert "ord_anna_1" in sales
    assert EN.money(mine["commission"], "EUR") in sales
    assert "ord_bob_1" not in sales
    assert "BOB10" not in sales

    for path in (
        "/console/me/codes/BOB10",
        "/console/me/codes/bob-10",
        f"/console/me/earnings/payouts/{bob_payout['id']}",
    ):
        answer = await anna.get(path)
        assert answer.status_code == 404, path
        assert "BOB10" not in answer.text
    relabel = await anna.post("/console/me/codes/BOB10/channel", {"channel": "stolen"})
    assert relabel.status_code == 404
    bob_codes = await client.get("/v1/me/codes", headers=world["bob_key"])
    assert [c["channel"] for c in bob_codes.json()["items"]] == [None]

    # Bob, signed in beside her, finds his payout and not hers.
    bob = await affiliate_browser(other_browser, db, clock, world["bob"])
    own = await bob.get(f"/console/me/earnings/payouts/{bob_payout['id']}")
    assert own.status_code == 200
    assert "ord_bob_1" in own.text
    assert "ord_anna_1" not in own.text


async def test_no_affiliate_page_shows_a_customers_data(
    browser: Browser,
    client: httpx.AsyncClient,
    db: AsyncSession,
    clock: FrozenClock,
    world: dict[str, Any],
) -> None:
    customer = {"customer_id": CUSTOMER_ID, "customer_email": CUSTOMER_EMAIL}
    sold = await sell(client, world, "ANNA10", 10000, order_id="ord_private_1", **customer)
    await sell(client, world, "ANNA10", 5000, customer_email=CUSTOMER_EMAIL)
    checkout = world["keys"][Role.CHECKOUT]
    assert (await rollback(client, checkout, sold["id"], amount=2000)).status_code == 200
    clock.advance(days=11)
    assert (await run_payouts(client, world["keys"][Role.ACCOUNTANT], clock())).status_code == 201
    payouts = await client.get("/v1/payouts", headers=world["keys"][Role.ACCOUNTANT])
    (payout,) = payouts.json()["items"]
    anna = await affiliate_browser(browser, db, clock, world["anna"])

    pages = [*PAGES, "/console/me/codes/ANNA10", f"/console/me/earnings/payouts/{payout['id']}"]
    seen = ""
    for path in pages:
        answer = await anna.get(path)
        assert answer.status_code == 200, path
        seen += text_of(answer)
    assert "ord_private_1" in seen  # the pages did show the sale
    for secret in (CUSTOMER_EMAIL, CUSTOMER_EMAIL.lower(), "Private.Shopper", CUSTOMER_ID):
        assert secret not in seen
    assert sold["customer_ref"] not in seen


async def test_getting_a_code_on_an_open_campaign_lists_it(
    browser: Browser,
    client: httpx.AsyncClient,
    db: AsyncSession,
    clock: FrozenClock,
    world: dict[str, Any],
) -> None:
    marketer = world["keys"][Role.MARKETER]
    autumn = await create_campaign(
        client, marketer, name="Autumn", code_prefix="AUTUMN", ends_at=None, open_to_affiliates=True
    )
    anna = await affiliate_browser(browser, db, clock, world["anna"])
    page = await anna.get("/console/me/codes")
    assert "Autumn" in page.text
    answer = await anna.post(
        "/console/me/codes", {"campaign_id": autumn["id"], "alias": "", "channel": "Podcast"}
    )
    assert answer.status_code == 302, answer.text
    api = await client.get(
        "/v1/me/codes", params={"campaign_id": autumn["id"]}, headers=world["anna_key"]
    )
    (granted,) = api.json()["items"]
    assert granted["kind"] == "dedicated"
    assert granted["channel"] == "podcast"
    assert answer.headers["location"] == f"/console/me/codes/{granted['code']}?notice=code_ready"
    listed = await anna.get("/console/me/codes")
    assert f'data-copy="{granted["code"]}"' in listed.text
    shown = await anna.get(answer.headers["location"])
    assert "Your code is ready" in shown.text

    # Asking again gives the same code, and a new label through the code's page.
    again = await anna.post("/console/me/codes", {"campaign_id": autumn["id"]})
    assert again.headers["location"].startswith(f"/console/me/codes/{granted['code']}?")
    await anna.get(f"/console/me/codes/{granted['code']}")
    relabel = await anna.post(f"/console/me/codes/{granted['code']}/channel", {"channel": ""})
    assert relabel.status_code == 302
    api = await client.get("/v1/me/codes", headers=world["anna_key"])
    assert {c["code"]: c["channel"] for c in api.json()["items"]}[granted["code"]] is None
    bad = await anna.post(f"/console/me/codes/{granted['code']}/channel", {"channel": "no spaces"})
    assert bad.status_code == 422
    assert 'id="channel-error"' in bad.text

    # A campaign closed to affiliates is refused, as the API refuses it.
    closed = await create_campaign(client, marketer, name="Staff", code_prefix="STAFF")
    await anna.get("/console/me/codes")
    refused = await anna.post("/console/me/codes", {"campaign_id": closed["id"]})
    assert refused.status_code == 403
    assert "does not hand out codes" in refused.text


async def test_alias_refusals_are_shown_beside_the_alias_field(
    browser: Browser,
    other_browser: Browser,
    client: httpx.AsyncClient,
    db: AsyncSession,
    clock: FrozenClock,
    world: dict[str, Any],
) -> None:
    aliases = await create_campaign(
        client,
        world["keys"][Role.MARKETER],
        name="Aliases",
        code_prefix="FALL",
        ends_at=None,
        open_to_affiliates=True,
        affiliate_aliases=True,
        max_aliases_per_affiliate=1,
    )
    anna = await affiliate_browser(browser, db, clock, world["anna"])
    await anna.get("/console/me/codes")
    made = await anna.post("/console/me/codes", {"campaign_id": aliases["id"], "alias": "FALLANNA"})
    assert made.status_code == 302, made.text
    assert made.headers["location"] == "/console/me/codes/FALLANNA?notice=code_ready"

    await anna.get("/console/me/codes")
    limit = await anna.post("/console/me/codes", {"campaign_id": aliases["id"], "alias": "FALL2"})
    assert limit.status_code == 409
    beside = re.search(r'id="alias-error">([^<]*)<', limit.text)
    assert beside
    assert "1 alias(es)" in html.unescape(beside.group(1))
    assert 'id="f-alias"' in limit.text
    assert 'value="FALL2"' in limit.text

    bob = await affiliate_browser(other_browser, db, clock, world["bob"])
    await bob.get("/console/me/codes")
    taken = await bob.post(
        "/console/me/codes", {"campaign_id": aliases["id"], "alias": "fall-anna"}
    )
    assert taken.status_code == 409
    beside = re.search(r'id="alias-error">([^<]*)<', taken.text)
    assert beside
    assert "is taken" in beside.group(1)
    # Nothing was kept of the refused request: Bob has no code on that campaign.
    api = await client.get(
        "/v1/me/codes", params={"campaign_id": aliases["id"]}, headers=world["bob_key"]
    )
    assert api.json()["items"] == []


async def test_the_sales_chart_has_one_bar_per_day_with_its_totals(
    browser: Browser,
    client: httpx.AsyncClient,
    db: AsyncSession,
    clock: FrozenClock,
    world: dict[str, Any],
) -> None:
    clock.advance(days=-2)  # 2026-06-29
    earlier = [await sell(client, world, "ANNA10", amount) for amount in (10000, 5000)]
    clock.advance(days=2)  # 2026-07-01
    today = await sell(client, world, "ANNA10", 2000)
    await sell(client, world, "BOB10", 90000)  # Bob's: not in Anna's chart
    anna = await affiliate_browser(browser, db, clock, world["anna"])

    page = await anna.get("/console/me/sales")
    titles = [html.unescape(title) for title in BAR_TITLE.findall(page.text)]
    assert len(titles) == 30
    assert titles[0] == "Jun 2, 2026: 0 sales"
    # The revenue of a sale is its order amount, after the campaign's 20 % off.
    assert sum(sold["order_amount"] for sold in earlier) == 12000
    assert titles[-3] == "Jun 29, 2026: 2 sales (€120.00)"
    assert titles[-2] == "Jun 30, 2026: 0 sales"
    assert today["order_amount"] == 1600
    assert titles[-1] == "Jul 1, 2026: 1 sale (€16.00)"
    assert sum(1 for title in titles if not title.endswith(": 0 sales")) == 2
    heights = re.findall(r'<rect class="bar"[^>]*height="(\d+)"', page.text)
    assert int(heights[-3]) == 2 * int(heights[-1]) > 0


async def test_earnings_are_the_figures_the_api_answers(
    browser: Browser,
    client: httpx.AsyncClient,
    db: AsyncSession,
    clock: FrozenClock,
    world: dict[str, Any],
) -> None:
    first = await sell(client, world, "ANNA10", 10000)
    await sell(client, world, "ANNA10", 4000, currency="EUR")
    clock.advance(days=11)
    assert (await run_payouts(client, world["keys"][Role.ACCOUNTANT], clock())).status_code == 201
    await sell(client, world, "ANNA10", 7500)  # pending: within the holding days
    assert (await rollback(client, world["keys"][Role.CHECKOUT], first["id"])).status_code == 200

    api = await client.get("/v1/me/earnings", headers=world["anna_key"])
    (eur,) = api.json()["earnings"]
    assert eur["paid"] > 0
    assert eur["pending"] > 0
    anna = await affiliate_browser(browser, db, clock, world["anna"])
    page = text_of(await anna.get("/console/me/earnings"))
    for figure in ("pending", "approved", "paid", "balance"):
        shown = re.search(rf'data-figure="{figure}"><span>[^<]*</span><b>([^<]*)</b>', page)
        assert shown, figure
        assert shown.group(1) == EN.money(eur[figure], "EUR"), figure

    (payout,) = (await client.get("/v1/payouts", headers=world["keys"][Role.ACCOUNTANT])).json()[
        "items"
    ]
    assert f"/console/me/earnings/payouts/{payout['id']}" in page
    detail = text_of(await anna.get(f"/console/me/earnings/payouts/{payout['id']}"))
    assert EN.money(payout["amount"], "EUR") in detail
    assert detail.count("<code>ANNA10</code>") == payout["entries"] == 2


@pytest.mark.parametrize("role", [Role.MARKETER, Role.ACCOUNTANT, Role.ADMIN])
async def test_other_roles_get_404_pages_on_the_affiliates_pages(
    browser: Browser, db: AsyncSession, clock: FrozenClock, world: dict[str, Any], role: Role
) -> None:
    signed = await signed_in(browser, db, clock, f"{role.value}@example.com", role)
    for path in [*PAGES, "/console/me/codes/ANNA10"]:
        answer = await signed.get(path)
        assert answer.status_code == 404, path
        assert "ANNA10" not in answer.text
    await signed.get("/console/account")
    refused = await signed.post("/console/me/codes", {"campaign_id": world["campaign"]["id"]})
    assert refused.status_code == 404
