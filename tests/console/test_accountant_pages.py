"""Accountants' pages over HTTP: the ledger with its filters, paging and export, the
commission report, past payouts, and a payout run previewed then confirmed once."""

from __future__ import annotations

import csv
import html
import io
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from promo.app import create_app
from promo.audit import AuditEntry
from promo.auth.roles import Role
from promo.db.engine import create_engine, create_sessionmaker
from promo.ledger.models import LedgerEntry, Payout
from promo.settings import Settings
from tests.support.api import (
    create_affiliate,
    create_campaign,
    create_code,
    instant,
    ledger_items,
    rollback,
    sell,
)
from tests.support.clock import FrozenClock
from tests.support.console import Browser, make_account
from tests.support.databases import committed_database
from tests.support.factories import bearer, make_affiliate, make_key

ENTRY_ID = re.compile(r"<td><code>(led_\w+)</code></td>")
NEXT = re.compile(r'<a href="([^"]+)" rel="next">')
HIDDEN = re.compile(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)">')
PAGES = ["/console/ledger", "/console/commissions", "/console/payouts", "/console/payouts/run"]


def shown_entries(page: httpx.Response) -> list[str]:
    assert page.status_code == 200, page.text
    return ENTRY_ID.findall(page.text)


def field_error(page: httpx.Response, field: str) -> str:
    found = re.search(
        rf'<p class="field-error" id="{re.escape(field)}-error">([^<]*)</p>', page.text
    )
    assert found, page.text
    return html.unescape(found.group(1))


def minute(value: datetime) -> str:
    """``value`` as a datetime-local field holds it (UTC on these pages)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")


@dataclass
class Program:
    """Two affiliates selling in EUR: Anna (paid at any balance), Bob (threshold 1000 EUR)."""

    anna: str
    bob: str
    campaign: str
    headers: dict[Role, dict[str, str]]
    day0: datetime
    day1: datetime


async def seed(
    client: httpx.AsyncClient, clock: FrozenClock, headers: dict[Role, dict[str, str]]
) -> Program:
    marketer, checkout = headers[Role.MARKETER], headers[Role.CHECKOUT]
    campaign = await create_campaign(client, marketer, ends_at=None, commission={"percent": 10})
    anna = await create_affiliate(client, marketer, "Anna", holding_days=0)
    bob = await create_affiliate(
        client, marketer, "Bob", holding_days=0, payout_thresholds={"EUR": 100000}
    )
    await create_code(client, marketer, campaign["id"], "ANNA20", affiliate_id=anna["id"])
    await create_code(client, marketer, campaign["id"], "BOB20", affiliate_id=bob["id"])
    day0 = clock()
    await sell(client, checkout, "ANNA20", 10000)  # 8000 net, 800 commission
    sold = await sell(client, checkout, "BOB20", 5000)  # 4000 net, 400
    day1 = clock.advance(days=1)
    await sell(client, checkout, "ANNA20", 5000)  # 400
    await sell(client, checkout, "ANNA20", 2500)  # 200
    response = await rollback(client, checkout, sold["id"])  # Bob's refund: -400
    assert response.status_code == 200, response.text
    clock.advance(hours=1)
    return Program(anna["id"], bob["id"], campaign["id"], headers, day0, day1)


@pytest.fixture
async def program(client: httpx.AsyncClient, db: AsyncSession, clock: FrozenClock) -> Program:
    headers = {
        role: bearer(await make_key(db, role, now=clock()))
        for role in (Role.MARKETER, Role.CHECKOUT, Role.ACCOUNTANT)
    }
    return await seed(client, clock, headers)


@pytest.fixture
async def accountant(
    browser: Browser, db: AsyncSession, clock: FrozenClock, program: Program
) -> Browser:
    """An accountant signed in after the program's sales (the clock has moved)."""
    await make_account(db, clock, "ada@example.com", Role.ACCOUNTANT)
    await browser.sign_in("ada@example.com")
    return browser


async def api_ids(client: httpx.AsyncClient, program: Program, params: dict[str, str]) -> list[str]:
    return [e["id"] for e in await ledger_items(client, program.headers[Role.ACCOUNTANT], params)]


# The ledger


async def test_each_filter_narrows_the_ledger_to_what_the_api_selects(
    accountant: Browser, client: httpx.AsyncClient, program: Program
) -> None:
    everything = shown_entries(await accountant.get("/console/ledger"))
    assert len(everything) == 5
    assert everything == await api_ids(client, program, {})

    annas = shown_entries(await accountant.get(f"/console/ledger?affiliate_id={program.anna}"))
    assert len(annas) == 3
    assert annas == await api_ids(client, program, {"affiliate_id": program.anna})

    refunds = shown_entries(await accountant.get("/console/ledger?kind=reversal"))
    refunds += shown_entries(await accountant.get("/console/ledger?kind=refund"))
    assert len(refunds) == 1
    assert refunds == (await api_ids(client, program, {"affiliate_id": program.bob}))[1:]

    # From the start of day 1 (a datetime-local field, read as UTC): day 0's two sales are out.
    later = shown_entries(await accountant.get(f"/console/ledger?from={minute(program.day1)}"))
    assert later == everything[2:]
    before = shown_entries(await accountant.get(f"/console/ledger?to={minute(program.day1)}"))
    assert before == everything[:2]
    both = shown_entries(
        await accountant.get(
            f"/console/ledger?from={minute(program.day1)}&affiliate_id={program.anna}&kind=redemption"
        )
    )
    assert both == await api_ids(
        client,
        program,
        {"from": instant(program.day1), "affiliate_id": program.anna, "kind": "redemption"},
    )
    assert len(both) == 2

    page = await accountant.get(f"/console/ledger?affiliate_id={program.anna}")
    assert "€8.00" in page.text  # fmt.money of the 800-cent commission
    assert f'value="{program.anna}"' in page.text  # the form keeps what was filtered


async def test_the_ledger_pages_with_next_page_links_that_keep_the_filters(
    accountant: Browser, client: httpx.AsyncClient, program: Program
) -> None:
    seen: list[str] = []
    url: str | None = "/console/ledger?limit=2"
    sizes = []
    while url:
        page = await accountant.get(url)
        ids = shown_entries(page)
        sizes.append(len(ids))
        seen += ids
        found = NEXT.search(page.text)
        url = html.unescape(found.group(1)) if found else None
    assert sizes == [2, 2, 1]
    assert seen == await api_ids(client, program, {})

    first = await accountant.get(f"/console/ledger?affiliate_id={program.anna}&limit=2")
    found = NEXT.search(first.text)
    assert found
    following = html.unescape(found.group(1))
    assert f"affiliate_id={program.anna}" in following
    rest = shown_entries(await accountant.get(following))
    assert shown_entries(first) + rest == await api_ids(
        client, program, {"affiliate_id": program.anna}
    )
    assert len(rest) == 1
    assert NEXT.search((await accountant.get(following)).text) is None


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("from=yesterday", "from", "date and time"),
        ("affiliate_id=aff_nobody", "affiliate_id", "No such affiliate"),
        ("campaign_id=cmp_0", "campaign_id", "No such campaign"),
        ("kind=sale", "kind", "must be one of"),
        ("limit=0", "limit", "from 1 to 500"),
        ("cursor=garbage", "cursor", "not a cursor"),
    ],
)
async def test_a_wrong_filter_is_refused_beside_its_field(
    accountant: Browser, program: Program, query: str, field: str, message: str
) -> None:
    page = await accountant.get(f"/console/ledger?{query}")
    assert page.status_code == 422
    assert "text/html" in page.headers["content-type"]
    if field == "cursor":  # no field of the form holds it: named in the page's alert
        assert "cursor" in page.text
        assert message in page.text
    else:
        assert message in field_error(page, field)
    assert ENTRY_ID.findall(page.text) == []


async def test_an_export_with_a_wrong_filter_is_a_page_naming_it(
    accountant: Browser, program: Program
) -> None:
    refused = await accountant.get("/console/ledger/export?format=csv&kind=sale")
    assert refused.status_code == 422
    assert "text/html" in refused.headers["content-type"]
    assert "kind" in refused.text
    unknown = await accountant.get("/console/ledger/export?format=xlsx")
    assert unknown.status_code == 422
    assert "format" in unknown.text


# The commission report


async def test_the_commission_report_shows_each_affiliates_totals_for_the_period(
    accountant: Browser, program: Program
) -> None:
    page = await accountant.get("/console/commissions")
    assert page.status_code == 200
    rows = re.findall(
        r"<tr>\s*<td>(?:<code>)?(aff_\w+)(?:</code>)?</td>(.*?)</tr>", page.text, re.S
    )
    by_affiliate = {affiliate: row for affiliate, row in rows}
    assert set(by_affiliate) == {program.anna, program.bob}
    # Anna: 3 orders, 8000 + 4000 + 2000 net, 1400 commission approved (no holding days).
    anna_cells = re.findall(r'<td class="num">([^<]*)</td>', by_affiliate[program.anna])
    assert anna_cells == ["3", "€140.00", "€35.00", "€0.00", "€14.00", "€0.00", "€14.00"]
    bob_cells = re.findall(r'<td class="num">([^<]*)</td>', by_affiliate[program.bob])
    assert bob_cells[-1] == "€0.00"  # the refund took back the 4.00 commission

    day1 = await accountant.get(f"/console/commissions?from={minute(program.day1)}")
    anna_day1 = re.search(rf"<code>{program.anna}</code></td>(.*?)</tr>", day1.text, re.S)
    assert anna_day1
    assert re.findall(r'<td class="num">([^<]*)</td>', anna_day1.group(1))[0] == "2"

    empty = await accountant.get(
        f"/console/commissions?to={minute(program.day0 - timedelta(days=1))}"
    )
    assert "No ledger entries in this period." in empty.text
    wrong = await accountant.get("/console/commissions?to=soon")
    assert wrong.status_code == 422
    assert "date and time" in field_error(wrong, "to")


# Payouts: preview, confirm, never twice


async def counts(db: AsyncSession) -> tuple[int, int, int]:
    return (
        await db.scalar(select(func.count()).select_from(Payout)) or 0,
        await db.scalar(select(func.count()).select_from(LedgerEntry)) or 0,
        await db.scalar(select(func.count()).select_from(AuditEntry)) or 0,
    )


async def previewed(accountant: Browser, as_of: datetime) -> httpx.Response:
    page = await accountant.get(f"/console/payouts/run?as_of={minute(as_of)}")
    assert page.status_code == 200, page.text
    return page


def confirm_form(page: httpx.Response) -> dict[str, str]:
    fields = dict(HIDDEN.findall(page.text))
    fields.pop("_csrf_token", None)
    assert set(fields) == {"as_of", "idempotency_key"}, fields
    return {name: html.unescape(value) for name, value in fields.items()}


async def test_the_preview_shows_what_would_be_paid_and_writes_nothing(
    accountant: Browser, db: AsyncSession, program: Program, clock: FrozenClock
) -> None:
    form = await accountant.get("/console/payouts/run")
    assert form.status_code == 200
    assert 'name="as_of" type="datetime-local" value=""' in form.text  # blank: as of now
    before = await counts(db)
    page = await previewed(accountant, clock())
    assert await counts(db) == before
    rows = re.findall(
        r"<td><code>(aff_\w+)</code></td>\s*<td>(\w+)</td>(.*?)</tr>", page.text, re.S
    )
    assert [(a, c, re.findall(r'<td class="num">([^<]*)</td>', rest)) for a, c, rest in rows] == [
        (program.anna, "EUR", ["3", "€14.00"])
    ]  # Bob's balance (0) is not paid
    assert "1 payout in EUR" in page.text
    assert "Confirm and pay" in page.text
    blank = await accountant.get("/console/payouts/run?as_of=")
    assert confirm_form(blank)["as_of"] == clock().isoformat()  # to the microsecond
    assert await counts(db) == before
    # Each preview draws its own key.
    again = await previewed(accountant, clock())
    assert confirm_form(again)["idempotency_key"] != confirm_form(page)["idempotency_key"]


async def test_confirm_pays_what_the_preview_showed_and_a_second_click_pays_nothing(
    accountant: Browser,
    client: httpx.AsyncClient,
    db: AsyncSession,
    program: Program,
    clock: FrozenClock,
) -> None:
    page = await previewed(accountant, clock())
    form = confirm_form(page)
    answer = await accountant.post("/console/payouts/run", form)
    assert answer.status_code == 302, answer.text
    location = answer.headers["location"]
    assert location.startswith("/console/payouts?cursor=")
    assert location.endswith("notice=payout_done")
    payouts = list((await db.scalars(select(Payout))).all())
    assert [(p.currency, p.amount) for p in payouts] == [("EUR", 1400)]

    listed = await accountant.get(location)
    assert "Payouts created." in listed.text
    assert "€14.00" in listed.text
    payout_id = re.search(r'<a href="/console/payouts/(pay_\w+)">', listed.text)
    assert payout_id

    # A sale approved at as_of itself (no holding days, same instant): a second run
    # of that as_of would pay it; the same form again (a double click, a reload)
    # replays the first answer instead, and pays nothing.
    await sell(client, program.headers[Role.CHECKOUT], "ANNA20", 5000)  # 400
    twice = await accountant.post("/console/payouts/run", form)
    assert twice.status_code == 302
    assert twice.headers["location"] == location
    assert await db.scalar(select(func.count()).select_from(Payout)) == 1
    runs = list(
        (await db.scalars(select(AuditEntry).where(AuditEntry.action == "payouts.run"))).all()
    )
    assert [(r.actor, r.role, r.details["payouts"]) for r in runs] == [
        ("console", "accountant", [payout_id.group(1)])
    ]
    assert runs[0].user_id is not None

    # A fresh preview (a new key) shows only that sale; once paid, nothing is due.
    after = await previewed(accountant, clock())
    assert "€4.00" in after.text
    assert "€14.00" not in after.text
    third = await accountant.post("/console/payouts/run", confirm_form(after))
    assert third.status_code == 302
    amounts = [p.amount for p in (await db.scalars(select(Payout).order_by(Payout.id))).all()]
    assert amounts == [1400, 400]
    done = await previewed(accountant, clock())
    assert "Nothing is due" in done.text
    assert "Confirm and pay" not in done.text
    nothing = await accountant.post(
        "/console/payouts/run", confirm_form(after) | {"idempotency_key": "k-late"}
    )
    assert nothing.headers["location"] == "/console/payouts?notice=payout_none"


async def test_a_payout_page_lists_every_entry_it_covers(
    accountant: Browser, client: httpx.AsyncClient, program: Program, clock: FrozenClock
) -> None:
    await accountant.post(
        "/console/payouts/run", confirm_form(await previewed(accountant, clock()))
    )
    listed = await accountant.get("/console/payouts")
    found = re.search(r'<a href="/console/payouts/(pay_\w+)">', listed.text)
    assert found
    detail = await accountant.get(f"/console/payouts/{found.group(1)}")
    assert detail.status_code == 200
    annas = [
        e["id"]
        for e in await ledger_items(
            client, program.headers[Role.ACCOUNTANT], {"affiliate_id": program.anna}
        )
        if e["kind"] == "redemption"
    ]
    assert shown_entries(detail) == annas
    assert "€14.00" in detail.text
    filtered = await accountant.get(f"/console/payouts?affiliate_id={program.bob}")
    assert "No payouts." in filtered.text
    missing = await accountant.get("/console/payouts/pay_nothing")
    assert missing.status_code == 404
    assert "No such payout" in missing.text


async def test_a_run_as_of_the_future_is_refused_beside_as_of(
    accountant: Browser, db: AsyncSession, program: Program, clock: FrozenClock
) -> None:
    page = await accountant.get(f"/console/payouts/run?as_of={minute(clock() + timedelta(days=2))}")
    assert page.status_code == 422
    assert "future" in field_error(page, "as_of")
    before = await counts(db)
    await accountant.get("/console/payouts/run")
    future = {"as_of": instant(clock() + timedelta(days=2)), "idempotency_key": "k-future"}
    refused = await accountant.post("/console/payouts/run", future)
    assert refused.status_code == 422
    assert await counts(db) == before


async def test_a_confirm_without_its_key_is_refused_and_pays_nothing(
    accountant: Browser, db: AsyncSession, program: Program, clock: FrozenClock
) -> None:
    form = confirm_form(await previewed(accountant, clock()))
    del form["idempotency_key"]
    refused = await accountant.post("/console/payouts/run", form)
    assert refused.status_code == 400
    assert await db.scalar(select(func.count()).select_from(Payout)) == 0


# Who may open these pages


@pytest.mark.parametrize("role", [Role.MARKETER, Role.AFFILIATE])
async def test_marketers_and_affiliates_get_not_found_pages(
    browser: Browser, db: AsyncSession, clock: FrozenClock, program: Program, role: Role
) -> None:
    affiliate_id = (
        (await make_affiliate(db, now=clock(), name="Cleo")).id if role is Role.AFFILIATE else None
    )
    await make_account(db, clock, "other@example.com", role, affiliate_id=affiliate_id)
    await browser.sign_in("other@example.com")
    for path in [*PAGES, "/console/ledger/export?format=csv", "/console/payouts/pay_x"]:
        page = await browser.get(path)
        assert page.status_code == 404, path
        assert "text/html" in page.headers["content-type"]
        assert "led_" not in page.text
    refused = await browser.post(
        "/console/payouts/run", {"as_of": instant(clock()), "idempotency_key": "k1"}
    )
    assert refused.status_code == 404
    assert await db.scalar(select(func.count()).select_from(Payout)) == 0


async def test_an_admin_opens_the_accountants_pages(
    browser: Browser, db: AsyncSession, clock: FrozenClock, program: Program
) -> None:
    await make_account(db, clock, "root@example.com", Role.ADMIN)
    await browser.sign_in("root@example.com")
    for path in PAGES:
        assert (await browser.get(path)).status_code == 200, path
    assert len(shown_entries(await browser.get("/console/ledger"))) == 5


# The export, on a committed database (it streams from its own connection)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def committed(request: pytest.FixtureRequest, sqlite_dir: Path) -> Iterator[Settings]:
    with committed_database(request, sqlite_dir, "promo_console_ledger") as settings:
        yield settings


@dataclass
class Exported:
    browser: Browser
    api: httpx.AsyncClient
    program: Program


@pytest.fixture(scope="module")
async def exported(committed: Settings) -> AsyncIterator[Exported]:
    engine = create_engine(committed)
    clock = FrozenClock()
    async with create_sessionmaker(engine)() as session, session.begin():
        headers = {
            role: bearer(await make_key(session, role, now=clock()))
            for role in (Role.MARKETER, Role.CHECKOUT, Role.ACCOUNTANT)
        }
        await make_account(session, clock, "ada@example.com", Role.ACCOUNTANT)
    app = create_app(committed, engine=engine, clock=clock)
    transport = httpx.ASGITransport(app=app)
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://promo.test") as api,
        httpx.AsyncClient(transport=transport, base_url="http://promo.test") as console,
    ):
        program = await seed(api, clock, headers)
        browser = Browser(console)
        await browser.sign_in("ada@example.com")
        yield Exported(browser, api, program)
    await engine.dispose()


def export_links(page: httpx.Response) -> dict[str, str]:
    links = re.findall(
        r'<a class="button" href="(/console/ledger/export\?[^"]+)" download>', page.text
    )
    return {re.search(r"format=(\w+)", link).group(1): html.unescape(link) for link in links}  # type: ignore[union-attr]


async def test_the_export_of_a_filtered_ledger_holds_exactly_the_filtered_entries(
    exported: Exported,
) -> None:
    program = exported.program
    query = f"affiliate_id={program.anna}&from={minute(program.day1)}&limit=1"
    page = await exported.browser.get(f"/console/ledger?{query}")
    links = export_links(page)
    assert set(links) == {"csv", "jsonl"}
    expected = await api_ids(
        exported.api, program, {"affiliate_id": program.anna, "from": instant(program.day1)}
    )
    everything = await api_ids(exported.api, program, {})
    assert len(expected) == 2
    assert len(everything) == 5

    download = await exported.browser.get(links["csv"])
    assert download.status_code == 200, download.text
    assert download.headers["content-disposition"] == 'attachment; filename="ledger.csv"'
    assert download.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(download.text, newline="")))
    assert [row["id"] for row in rows] == expected  # every page's entries, not one page's
    assert {row["affiliate_id"] for row in rows} == {program.anna}
    assert [row["commission"] for row in rows] == ["4.00", "2.00"]
    # Byte for byte what the API's export streams for the same filters.
    same = await exported.api.get(
        "/v1/ledger/export",
        params={"format": "csv", "affiliate_id": program.anna, "from": instant(program.day1)},
        headers=program.headers[Role.ACCOUNTANT],
    )
    assert download.content == same.content

    lines = await exported.browser.get(links["jsonl"])
    assert lines.headers["content-disposition"] == 'attachment; filename="ledger.jsonl"'
    import json

    assert [json.loads(line)["id"] for line in lines.text.splitlines()] == expected

    whole = await exported.browser.get("/console/ledger/export?format=csv")
    assert [row["id"] for row in csv.DictReader(io.StringIO(whole.text, newline=""))] == everything


async def test_signed_out_the_export_sends_to_sign_in(exported: Exported) -> None:
    transport = exported.api._transport
    async with httpx.AsyncClient(transport=transport, base_url="http://promo.test") as stranger:
        answer = await stranger.get("/console/ledger/export?format=csv")
    assert answer.status_code in (302, 303)
    assert answer.headers["location"].startswith("/console/login")
