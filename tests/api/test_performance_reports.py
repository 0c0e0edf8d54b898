"""GET /v1/reports/performance against the ledger, on both databases.

Every figure of every row is compared with sums of the entries GET /v1/ledger
returns (and with the validations the test made), bucketed here with
zoneinfo on each entry's own ``created_at``: sales across midnights, a week
and a month boundary of Paris, New York and UTC, refunds and rollbacks on
later days, two currencies, codes with and without affiliate and channel.
Reports are compared before any roll-up (all from the ledger), after a
roll-up of part of the period (roll-ups, then the ledger) and after a
roll-up of all of it.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from litestar import Litestar
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from promo import job_kinds
from promo.auth.roles import Role
from promo.jobs import queue
from promo.reports.counting import ValidationCounter
from promo.reports.models import ReportDay, ReportHour, ReportMonth, ReportWeek
from promo.reports.rollup import catch_up, roll_up, sales_until
from tests.support.api import (
    cart,
    create_affiliate,
    create_campaign,
    create_code,
    item,
    ledger_items,
    rollback,
    sell,
)
from tests.support.clock import FrozenClock
from tests.support.factories import bearer

SALES = ("redemption", "refund", "reversal")
FROM, TO = "2026-06-29T00:00:00Z", "2026-08-10T00:00:00Z"
NOW = datetime(2026, 8, 5, 12, 0, tzinfo=UTC)
CHANNELS = {"ANNA-IG": "instagram", "ANNA-YT": "youtube", "BOBPOD": "podcast", "-SHOP": None}
CHANNELS |= {"ANNAYEN": "instagram"}
FIGURES = (
    "validations_tried",
    "validations_valid",
    "redemptions",
    "revenue",
    "discount",
    "commission",
    "refunds",
    "refunds_count",
)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


@pytest.fixture
def accountant(keys: dict[Role, str]) -> dict[str, str]:
    return bearer(keys[Role.ACCOUNTANT])


async def validate(
    client: httpx.AsyncClient, checkout: dict[str, str], code: str, currency: str = "EUR"
) -> bool:
    response = await client.post(
        "/v1/validations",
        json={"code": code, "cart": cart(item("SKU-1", 1, 5000), currency=currency)},
        headers=checkout,
    )
    assert response.status_code == 200, response.text
    valid: bool = response.json()["valid"]
    return valid


@pytest.fixture
async def world(
    client: httpx.AsyncClient,
    clock: FrozenClock,
    marketer: dict[str, str],
    checkout: dict[str, str],
) -> dict[str, Any]:
    """Sales, refunds and rollbacks from 2026-07-01 to 08-02 around local midnights;
    validations (valid and not) counted by the app's counter, not flushed yet."""
    eur = await create_campaign(
        client, marketer, name="Perf EUR", ends_at=None, commission={"percent": 10}
    )
    jpy = await create_campaign(
        client,
        marketer,
        name="Perf JPY",
        currency="JPY",
        code_prefix="YEN",
        ends_at=None,
        commission={"percent": 10, "fixed": 50},
    )
    anna = await create_affiliate(client, marketer, "Anna Perf")
    bob = await create_affiliate(client, marketer, "Bob Perf", commission={"fixed": 100})
    owners = {"ANNA-IG": anna, "ANNA-YT": anna, "BOBPOD": bob, "-SHOP": None, "ANNAYEN": anna}
    for code, owner in owners.items():
        fields: dict[str, Any] = {"channel": CHANNELS[code]} if CHANNELS[code] else {}
        if owner is not None:
            fields["affiliate_id"] = owner["id"]
        campaign = jpy if code == "ANNAYEN" else eur
        await create_code(client, marketer, campaign["id"], code, **fields)

    validations: list[tuple[datetime, str, bool]] = []

    async def check(when: str, code: str, currency: str = "EUR") -> None:
        clock.set(at(when))
        validations.append((clock(), code, await validate(client, checkout, code, currency)))

    sold: dict[str, dict[str, Any]] = {}

    async def sale(when: str, name: str, code: str, amount: int, currency: str = "EUR") -> None:
        clock.set(at(when))
        sold[name] = await sell(client, checkout, code, amount, currency=currency)

    await check("2026-07-01T12:00:00Z", "ANNA-IG")
    await check("2026-07-01T12:10:00Z", "ANNA-IG", currency="JPY")  # currency_mismatch
    await check("2026-07-01T12:20:00Z", "NOSUCHCODE")  # belongs to no code: not counted
    await sale("2026-07-01T12:30:00Z", "a", "ANNA-IG", 10000)
    await check("2026-07-01T21:30:00Z", "ANNA-YT")  # 23:30 in Paris
    await sale("2026-07-01T21:45:00Z", "b", "ANNA-YT", 5000)
    await check("2026-07-01T22:30:00Z", "BOBPOD")  # 00:30 on the 2nd in Paris
    await sale("2026-07-01T22:40:00Z", "c", "BOBPOD", 7000)
    await sale("2026-07-02T03:30:00Z", "d", "-SHOP", 3000)  # 23:30 on the 1st in New York
    await sale("2026-07-02T03:45:00Z", "e", "ANNAYEN", 12000, currency="JPY")
    await sale("2026-07-05T22:30:00Z", "f", "ANNA-IG", 8000)  # Monday 00:30 in Paris
    await check("2026-07-05T22:35:00Z", "ANNA-IG")
    await sale("2026-07-07T00:15:00Z", "i", "ANNA-YT", 6000)  # the first hour of a UTC day
    await check("2026-07-16T00:10:00Z", "ANNA-YT")
    await sale("2026-07-16T04:30:00Z", "j", "ANNA-YT", 2500)  # just before a roll-up's end
    await sale("2026-07-16T05:00:00Z", "k", "-SHOP", 2600)  # just after it
    await sale("2026-07-31T22:00:00Z", "l", "ANNA-IG", 9000)  # midnight in Paris
    await sale("2026-07-31T22:30:00Z", "g", "BOBPOD", 4000)  # August in Paris
    await sale("2026-08-01T02:00:00Z", "h", "ANNAYEN", 20000, currency="JPY")  # July in NY
    await check("2026-08-01T03:00:00Z", "ANNAYEN", currency="JPY")
    # Refunds and rollbacks, in their own buckets.
    for when, name, body in (
        ("2026-07-02T09:00:00Z", "a", {"amount": 2000}),
        ("2026-07-06T09:00:00Z", "a", {"amount": 1000}),
        ("2026-07-06T22:30:00Z", "c", {}),
        ("2026-08-01T21:59:00Z", "e", {"amount": 4800}),
        ("2026-08-02T10:00:00Z", "f", {}),
        ("2026-08-02T10:30:00Z", "h", {}),
    ):
        clock.set(at(when))
        response = await rollback(client, checkout, sold[name]["id"], **body)
        assert response.status_code == 200, response.text
    clock.set(NOW)
    return {"eur": eur, "jpy": jpy, "anna": anna, "bob": bob, "validations": validations}


def local_bucket(instant_: datetime, bucket: str, tz: str) -> str:
    """The bucket of an instant, computed here independently of promo.reports.buckets."""
    day = instant_.astimezone(ZoneInfo(tz)).date()
    if bucket == "week":
        day -= timedelta(days=day.weekday())
    elif bucket == "month":
        day = date(day.year, day.month, 1)
    return day.isoformat()


def group_of(group_by: str, entry: dict[str, Any]) -> Any:
    if group_by == "campaign":
        return entry["campaign_id"]
    if group_by == "affiliate":
        return entry["affiliate_id"]
    if group_by == "code":
        return entry["code"]
    return CHANNELS[entry["code"]]


def ratio(numerator: int, denominator: int) -> str | None:
    if denominator == 0:
        return None
    value = (Decimal(numerator) / Decimal(denominator)).quantize(
        Decimal("0.0001"), rounding=ROUND_HALF_UP
    )
    return str(value)


def expected_report(
    entries: list[dict[str, Any]],
    validations: list[tuple[datetime, str, bool]],
    currencies: dict[str, str],
    *,
    group_by: str,
    bucket: str,
    tz: str,
) -> dict[tuple[Any, str, str], dict[str, Any]]:
    """Every row's figures from the ledger's entries and the validations made."""
    sums: dict[tuple[Any, str, str], dict[str, int]] = defaultdict(dict.fromkeys(FIGURES, 0).copy)
    for entry in entries:
        if entry["kind"] not in SALES:
            continue
        created = datetime.fromisoformat(entry["created_at"])
        row = sums[
            (group_of(group_by, entry), entry["currency"], local_bucket(created, bucket, tz))
        ]
        sale = entry["kind"] == "redemption"
        row["redemptions"] += sale
        row["revenue"] += entry["order_amount"] if sale else 0
        row["discount"] += entry["discount"]
        row["commission"] += entry["commission"]
        row["refunds"] += 0 if sale else -entry["order_amount"]
        row["refunds_count"] += not sale
    codes_seen = {e["code"]: e for e in entries if e["kind"] == "redemption"}
    for when, code, valid in validations:
        if code not in CHANNELS:
            continue
        entry = codes_seen[code]
        row = sums[(group_of(group_by, entry), currencies[code], local_bucket(when, bucket, tz))]
        row["validations_tried"] += 1
        row["validations_valid"] += valid
    expected: dict[tuple[Any, str, str], dict[str, Any]] = {}
    for key, row in sums.items():
        spent = row["discount"] + row["commission"]
        net = row["revenue"] - row["refunds"]
        per_sale = (
            int((Decimal(spent) / row["redemptions"]).quantize(Decimal(1), ROUND_HALF_UP))
            if row["redemptions"]
            else None
        )
        expected[key] = {
            **row,
            "net_revenue": net,
            "validation_to_redemption_rate": ratio(row["redemptions"], row["validations_valid"]),
            "cost_per_sale": per_sale,
            "return_on_cost": ratio(net, spent) if spent > 0 else None,
        }
    return expected


def reported(body: dict[str, Any], group_by: str) -> dict[tuple[Any, str, str], dict[str, Any]]:
    field = {"campaign": "campaign_id", "affiliate": "affiliate_id"}.get(group_by, group_by)
    rows: dict[tuple[Any, str, str], dict[str, Any]] = {}
    for row in body["rows"]:
        key = (row[field], row["currency"], row["bucket"])
        assert key not in rows, f"two rows for {key}"
        rows[key] = {name: row[name] for name in (*FIGURES, *DERIVED)}
    return rows


DERIVED = ("net_revenue", "validation_to_redemption_rate", "cost_per_sale", "return_on_cost")
SHAPES = [
    (group_by, bucket, tz)
    for group_by in ("campaign", "code", "affiliate", "channel")
    for bucket, tz in (("day", "Europe/Paris"), ("week", "Europe/Paris"), ("day", "UTC"))
] + [
    ("code", "month", "Europe/Paris"),
    ("affiliate", "month", "America/New_York"),
    ("channel", "day", "America/New_York"),
    ("campaign", "week", "Asia/Tokyo"),
]


async def performance(
    client: httpx.AsyncClient, marketer: dict[str, str], **params: str
) -> dict[str, Any]:
    response = await client.get(
        "/v1/reports/performance", params={"from": FROM, "to": TO, **params}, headers=marketer
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def check_every_shape(
    client: httpx.AsyncClient,
    marketer: dict[str, str],
    accountant: dict[str, str],
    world: dict[str, Any],
) -> None:
    entries = await ledger_items(client, accountant)
    currencies = {code: "JPY" if code == "ANNAYEN" else "EUR" for code in CHANNELS}
    for group_by, bucket, tz in SHAPES:
        body = await performance(client, marketer, group_by=group_by, bucket=bucket, tz=tz)
        expected = expected_report(
            entries, world["validations"], currencies, group_by=group_by, bucket=bucket, tz=tz
        )
        assert reported(body, group_by) == expected, (group_by, bucket, tz)


async def test_every_figure_equals_the_ledgers_sums_before_and_after_roll_ups(
    client: httpx.AsyncClient,
    app: Litestar,
    db: AsyncSession,
    marketer: dict[str, str],
    accountant: dict[str, str],
    world: dict[str, Any],
) -> None:
    await app.state.validation_counts.flush(app.state.sessionmaker)
    body = await performance(client, marketer)
    assert body["sales_rolled_up_until"] is None, "nothing rolled up: all from the ledger"
    await check_every_shape(client, marketer, accountant, world)

    # Part of the period rolled up (to mid-July): roll-ups before, the ledger after.
    done = await roll_up(
        db, start=at("2026-06-01T00:00:00Z"), end=at("2026-07-16T05:00:00Z"), now=NOW
    )
    assert done is not None
    assert await sales_until(db) == at("2026-07-16T05:00:00Z")
    await check_every_shape(client, marketer, accountant, world)

    # All of it, in steps, as a job would.
    while await catch_up(db, now=NOW, max_hours=240) is not None:
        pass
    assert await sales_until(db) == at("2026-08-05T11:00:00Z"), "up to SETTLE before now"
    await check_every_shape(client, marketer, accountant, world)


async def test_the_json_rows_say_what_they_cover(
    client: httpx.AsyncClient, app: Litestar, marketer: dict[str, str], world: dict[str, Any]
) -> None:
    await app.state.validation_counts.flush(app.state.sessionmaker)
    body = await performance(client, marketer, group_by="code", bucket="month", tz="Europe/Paris")
    assert (body["group_by"], body["bucket"], body["tz"]) == ("code", "month", "Europe/Paris")
    assert (body["start"], body["end"]) == ("2026-06-29T00:00:00Z", "2026-08-10T00:00:00Z")
    pod = [row for row in body["rows"] if row["code"] == "BOBPOD"]
    assert [(r["bucket"], r["start"], r["end"]) for r in pod] == [
        ("2026-07-01", "2026-06-30T22:00:00Z", "2026-07-31T22:00:00Z"),
        ("2026-08-01", "2026-07-31T22:00:00Z", "2026-08-10T00:00:00Z"),
    ]
    july = pod[0]
    assert july["campaign_id"] == world["eur"]["id"]
    assert july["affiliate_id"] == world["bob"]["id"]
    assert july["channel"] == "podcast"
    # 7000 at 20% off: 5600 and 1400 off, Bob's 10% + 100 = 660; rolled back in July.
    assert july["redemptions"] == 1
    assert (july["revenue"], july["refunds"], july["net_revenue"]) == (5600, 5600, 0)
    assert (july["discount"], july["commission"], july["cost_per_sale"]) == (0, 0, 0)
    assert (july["validations_tried"], july["validations_valid"]) == (1, 1)
    assert july["validation_to_redemption_rate"] == "1.0000"
    assert july["return_on_cost"] is None


async def test_validations_add_up_over_two_flushes_and_two_workers(
    client: httpx.AsyncClient,
    app: Litestar,
    clock: FrozenClock,
    marketer: dict[str, str],
    checkout: dict[str, str],
) -> None:
    campaign = await create_campaign(client, marketer, ends_at=None)
    await create_code(client, marketer, campaign["id"], "COUNTME")
    clock.set(at("2026-07-01T10:00:00Z"))
    first, second = ValidationCounter(), ValidationCounter()
    sessionmaker = app.state.sessionmaker

    async def on(worker: ValidationCounter, times: int, currency: str = "EUR") -> None:
        app.state.validation_counts = worker
        for _ in range(times):
            await validate(client, checkout, "countme", currency)

    await on(first, 3)
    await on(second, 2, currency="JPY")  # tried, not valid
    assert await first.flush(sessionmaker) == 1
    await on(first, 4)
    clock.set(at("2026-07-01T11:30:00Z"))  # another hour: another row
    await on(second, 1)
    assert await first.flush(sessionmaker) == 1
    assert await second.flush(sessionmaker) == 2
    assert await second.flush(sessionmaker) == 0, "nothing left to flush"

    response = await client.get(
        "/v1/reports/performance",
        params={"group_by": "code", "from": "2026-07-01", "to": "2026-07-02"},
        headers=marketer,
    )
    (row,) = response.json()["rows"]
    assert (row["code"], row["validations_tried"], row["validations_valid"]) == ("COUNTME", 10, 8)
    assert (row["redemptions"], row["validation_to_redemption_rate"]) == (0, "0.0000")


async def test_a_failed_flush_keeps_its_counts_for_the_next(
    client: httpx.AsyncClient,
    app: Litestar,
    clock: FrozenClock,
    marketer: dict[str, str],
    checkout: dict[str, str],
) -> None:
    campaign = await create_campaign(client, marketer, ends_at=None)
    await create_code(client, marketer, campaign["id"], "KEEPME")
    await validate(client, checkout, "KEEPME")

    def broken() -> Any:
        raise ConnectionRefusedError("the database is away")

    counter: ValidationCounter = app.state.validation_counts
    with pytest.raises(ConnectionRefusedError):
        await counter.flush(broken)  # type: ignore[arg-type]
    await validate(client, checkout, "KEEPME")
    assert counter.pending() == 1
    assert await counter.flush(app.state.sessionmaker) == 1
    day = clock().date().isoformat()
    response = await client.get(
        "/v1/reports/performance",
        params={"group_by": "code", "from": day, "to": (clock().date() + timedelta(1)).isoformat()},
        headers=marketer,
    )
    assert response.json()["rows"][0]["validations_tried"] == 2


async def rollup_rows(db: AsyncSession) -> list[Any]:
    found = []
    for model in (ReportHour, ReportDay, ReportWeek, ReportMonth):
        result = await db.execute(select(model.__table__).order_by(*model.__table__.primary_key))
        found.append([tuple(row) for row in result])
    return found


async def test_a_roll_up_run_twice_gives_the_same_rows(
    app: Litestar, db: AsyncSession, world: dict[str, Any]
) -> None:
    await app.state.validation_counts.flush(app.state.sessionmaker)
    start, end = at("2026-06-30T00:00:00Z"), at("2026-08-04T00:00:00Z")
    await roll_up(db, start=start, end=end, now=NOW)
    once = await rollup_rows(db)
    assert all(once), "hours, days, weeks and months"
    await roll_up(db, start=start, end=end, now=NOW)
    assert await rollup_rows(db) == once
    # Overlapping periods, in any order, end with the same rows too.
    await roll_up(db, start=at("2026-07-01T22:00:00Z"), end=at("2026-07-06T23:00:00Z"), now=NOW)
    await roll_up(db, start=at("2026-07-20T00:00:00Z"), end=end, now=NOW)
    assert await rollup_rows(db) == once


async def test_a_roll_up_keeps_the_validations_and_stops_short_of_now(
    app: Litestar, db: AsyncSession, world: dict[str, Any]
) -> None:
    await app.state.validation_counts.flush(app.state.sessionmaker)
    hours = ReportHour.__table__
    tried = select(func.sum(hours.c.validations_tried), func.sum(hours.c.validations_valid))
    before = (await db.execute(tried)).one()
    assert tuple(before) == (7, 6)
    done = await roll_up(db, start=at("2026-06-30T00:00:00Z"), end=NOW + timedelta(days=1), now=NOW)
    assert done is not None
    assert done.end == at("2026-08-05T11:00:00Z"), "SETTLE before now, floored to the hour"
    assert tuple((await db.execute(tried)).one()) == (7, 6)
    assert await sales_until(db) == done.end


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"group_by": "country"}, "group_by"),
        ({"bucket": "year"}, "bucket"),
        ({"format": "xml"}, "format"),
        ({"tz": "Mars/Olympus_Mons"}, "tz"),
        ({"tz": "../../etc/passwd"}, "tz"),
        ({"tz": "Asia/Kolkata"}, "tz"),  # local midnights at :30 UTC
        ({"tz": "Asia/Kolkata", "from": "2026-07-01T00:00:00Z"}, "tz"),
        (
            {"tz": "Asia/Kolkata", "from": "2026-07-01T00:00:00Z", "to": "2026-07-01T02:00:00Z"},
            None,
        ),
        ({"from": "yesterday"}, "from"),
        ({"from": "2026-07-01T00:30:00Z"}, "from"),
        ({"from": "2026-07-01T00:00:00"}, "from"),  # no offset
        ({"to": "2026-06-30T00:00:00Z"}, "to"),  # before from
        ({"to": "2026-07-01"}, "to"),  # not after from
        ({"to": "2031-01-01", "bucket": "day"}, "to"),  # more than 1000 buckets
        ({"to": "9999-12-31", "bucket": "month"}, "to"),
    ],
)
async def test_bad_parameters_are_422_naming_the_parameter(
    client: httpx.AsyncClient, marketer: dict[str, str], params: dict[str, str], field: str | None
) -> None:
    query = {"from": "2026-07-01", "to": "2026-08-01", **params}
    response = await client.get("/v1/reports/performance", params=query, headers=marketer)
    if field is None:  # no local midnight inside: exact, so answered
        assert response.status_code == 200, response.text
        return
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in response.json()["errors"]] == [field]


@pytest.mark.parametrize("missing", ["from", "to"])
async def test_a_period_is_required(
    client: httpx.AsyncClient, marketer: dict[str, str], missing: str
) -> None:
    query = {"from": "2026-07-01", "to": "2026-08-01"}
    del query[missing]
    response = await client.get("/v1/reports/performance", params=query, headers=marketer)
    assert response.status_code in {400, 422}, response.text
    assert missing in response.text


@pytest.mark.parametrize("role", [Role.AFFILIATE, Role.ACCOUNTANT, Role.CHECKOUT])
async def test_only_marketers_and_admins_read_it(
    client: httpx.AsyncClient, keys: dict[Role, str], role: Role
) -> None:
    query = {"from": "2026-07-01", "to": "2026-08-01"}
    refused = await client.get("/v1/reports/performance", params=query, headers=bearer(keys[role]))
    assert refused.status_code == 403
    admin = await client.get(
        "/v1/reports/performance", params=query, headers=bearer(keys[Role.ADMIN])
    )
    assert admin.status_code == 200


async def test_csv_follows_the_house_rules(
    client: httpx.AsyncClient, app: Litestar, marketer: dict[str, str], world: dict[str, Any]
) -> None:
    await app.state.validation_counts.flush(app.state.sessionmaker)
    params = {"group_by": "code", "bucket": "month", "tz": "Europe/Paris"}
    as_json = await performance(client, marketer, **params)
    response = await client.get(
        "/v1/reports/performance",
        params={"from": FROM, "to": TO, **params, "format": "csv"},
        headers=marketer,
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    assert response.text.endswith("\r\n")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == len(as_json["rows"])
    by_code = {(r["code"], r["bucket"]): r for r in rows}
    shop = by_code[("'-SHOP", "2026-07-01")]  # neutralised: a spreadsheet shows it as text
    assert (shop["revenue"], shop["channel"], shop["affiliate_id"]) == ("44.80", "", "")
    assert shop["start"] == "2026-06-30T22:00:00Z"
    yen = by_code[("ANNAYEN", "2026-08-01")]
    assert yen["currency"] == "JPY"
    assert yen["revenue"] == "16000"
    assert yen["return_on_cost"] == "" or "." in yen["return_on_cost"]


async def test_the_roll_up_job_of_the_workers_catches_up_as_far_as_it_may(
    client: httpx.AsyncClient,
    app: Litestar,
    db: AsyncSession,
    clock: FrozenClock,
    marketer: dict[str, str],
    accountant: dict[str, str],
    world: dict[str, Any],
) -> None:
    """The recurring job (promo.job_kinds) rolls up as ``catch_up`` does, and the
    reports give the same figures after it."""
    await app.state.validation_counts.flush(app.state.sessionmaker)
    clock.set(NOW)
    await queue.enqueue(db, job_kinds.REPORT_ROLLUP, now=NOW, unique_key="rollup-test")
    await db.flush()
    assert await app.state.jobs.worker.run_due() >= 1
    assert await sales_until(db) == at("2026-08-05T11:00:00Z"), "up to SETTLE before now"
    await check_every_shape(client, marketer, accountant, world)
