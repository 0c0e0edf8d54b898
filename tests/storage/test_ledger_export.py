"""GET /v1/ledger/export on a committed database: CSV and JSON lines that agree to the
unit with the ledger API and the commission report.

The export streams from its own connection and snapshot, after the request's
session is gone, so it only sees committed rows: no outer transaction here.
One fresh database per backend for this module, seeded once with the ledger
scenario of ``tests.support.api`` (sales, partial refunds, rollbacks, a payout
run, a clawback and adjustments over two affiliates in EUR and JPY).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import insert

from promo.app import create_app
from promo.auth.roles import Role
from promo.db.engine import create_engine, create_sessionmaker
from promo.ids import Kind, decode, encode
from promo.ledger.models import LedgerEntry
from promo.settings import Settings
from tests.support.api import LEDGER_NOTE, instant, ledger_items, seed_ledger_scenario
from tests.support.clock import FrozenClock
from tests.support.databases import committed_database
from tests.support.factories import bearer, make_affiliate, make_key

HEADER = (
    "id,created_at,kind,redemption_id,order_id,code,campaign_id,affiliate_id,currency,"
    "order_amount,discount,commission,available_at,payout_id,note,"
    "plan_id,plan_revision,rate,conversion_id"
)
COLUMNS = HEADER.split(",")
AMOUNTS = ("order_amount", "discount", "commission")
EXPONENT = {"EUR": 2, "JPY": 0}
MAJOR_UNITS = {"EUR": re.compile(r"^-?\d+\.\d{2}$"), "JPY": re.compile(r"^-?\d+$")}
UTC_INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def committed(request: pytest.FixtureRequest, sqlite_dir: Path) -> Iterator[Settings]:
    """A fresh, migrated database that this module commits into."""
    with committed_database(request, sqlite_dir, "promo_export") as settings:
        yield settings


@dataclass
class Service:
    client: httpx.AsyncClient
    settings: Settings
    accountant: dict[str, str]
    clock: FrozenClock
    scenario: dict[str, Any]


@pytest.fixture(scope="module")
async def service(committed: Settings) -> AsyncIterator[Service]:
    """The app over the committed database, with the ledger scenario seeded once."""
    engine = create_engine(committed)
    clock = FrozenClock()
    async with create_sessionmaker(engine)() as session, session.begin():
        headers = {
            role: bearer(await make_key(session, role, now=clock()))
            for role in (Role.MARKETER, Role.CHECKOUT, Role.ACCOUNTANT)
        }
    app = create_app(committed, engine=engine, clock=clock)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://promo.test") as client:
        scenario = await seed_ledger_scenario(
            client,
            clock,
            marketer=headers[Role.MARKETER],
            checkout=headers[Role.CHECKOUT],
            accountant=headers[Role.ACCOUNTANT],
        )
        yield Service(client, committed, headers[Role.ACCOUNTANT], clock, scenario)
    await engine.dispose()


async def export(
    service: Service, fmt: str = "csv", params: dict[str, str] | None = None
) -> httpx.Response:
    response = await service.client.get(
        "/v1/ledger/export", params={"format": fmt, **(params or {})}, headers=service.accountant
    )
    assert response.status_code == 200, response.text
    return response


def parse_csv(text: str) -> list[dict[str, str]]:
    """The export read back with the csv module; checks the header on the way."""
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[0] == COLUMNS
    assert all(len(row) == len(COLUMNS) for row in rows)
    return [dict(zip(COLUMNS, row, strict=True)) for row in rows[1:]]


async def export_rows(
    service: Service, params: dict[str, str] | None = None
) -> list[dict[str, str]]:
    return parse_csv((await export(service, "csv", params)).text)


def minor_units(value: str, currency: str) -> int:
    """A major-unit amount of the export back in minor units, exactly."""
    assert MAJOR_UNITS[currency].match(value), (value, currency)
    minor = Decimal(value).scaleb(EXPONENT[currency])
    assert minor == minor.to_integral_value(), value
    return int(minor)


def as_instant(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def test_csv_is_rfc_4180_with_the_exact_header(service: Service) -> None:
    response = await export(service)
    assert response.headers["content-type"].startswith("text/csv")
    assert 'filename="ledger.csv"' in response.headers["content-disposition"]
    text = response.text
    assert text.startswith(HEADER + "\r\n")
    assert text.endswith("\r\n")
    rows = parse_csv(text)
    # Every record ends with CRLF; the only bare LF is the one inside the quoted note.
    assert text.count("\r\n") == len(rows) + 1
    assert text.replace("\r\n", "").count("\n") == LEDGER_NOTE.count("\n")
    assert len(rows) == len(await ledger_items(service.client, service.accountant))


async def test_csv_declares_its_charset_once(service: Service) -> None:
    response = await export(service)
    assert response.headers["content-type"] == "text/csv; charset=utf-8"


async def test_csv_rows_agree_with_the_ledger_api_to_the_unit(service: Service) -> None:
    rows = await export_rows(service)
    entries = await ledger_items(service.client, service.accountant)
    assert [row["id"] for row in rows] == [entry["id"] for entry in entries]
    numbers = [decode(Kind.LEDGER_ENTRY, row["id"]) for row in rows]
    assert numbers == sorted(numbers)  # id order
    for row, entry in zip(rows, entries, strict=True):
        currency = entry["currency"]
        for column in (
            "kind",
            "redemption_id",
            "order_id",
            "code",
            "campaign_id",
            "affiliate_id",
            "currency",
            "payout_id",
            "note",
        ):
            assert row[column] == (entry[column] or ""), (column, row, entry)
        for column in AMOUNTS:
            assert minor_units(row[column], currency) == entry[column], (column, row, entry)
        for column in ("created_at", "available_at"):
            assert UTC_INSTANT.match(row[column]), row[column]
            assert as_instant(row[column]) == as_instant(entry[column])


async def test_csv_sums_agree_with_the_commission_report(service: Service) -> None:
    sums: dict[tuple[str | None, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for row in await export_rows(service):
        totals = sums[(row["affiliate_id"] or None, row["currency"])]
        totals[0] += row["kind"] == "redemption"
        totals[1] += minor_units(row["order_amount"], row["currency"])
        totals[2] += minor_units(row["discount"], row["currency"])
        totals[3] += minor_units(row["commission"], row["currency"])
    response = await service.client.get("/v1/reports/commissions", headers=service.accountant)
    assert response.status_code == 200, response.text
    # Integers on both backends (tests/api checks the JSON types).
    report = {
        (r["affiliate_id"], r["currency"]): [
            int(r["orders"]),
            int(r["revenue"]),
            int(r["discount"]),
            int(r["balance"]),
        ]
        for r in response.json()["rows"]
    }
    assert report == dict(sums)
    for key, expected in service.scenario["totals"].items():
        assert tuple(sums[key]) == expected, key


async def test_amounts_are_decimal_major_units_per_currency(service: Service) -> None:
    rows = await export_rows(service)
    seen = {(row["currency"], column, row[column]) for row in rows for column in AMOUNTS}
    assert ("EUR", "order_amount", "19.99") in seen
    assert ("JPY", "order_amount", "1999") in seen
    assert ("EUR", "commission", "-5.00") in seen  # the -500 adjustment
    assert ("JPY", "commission", "-960") in seen  # the clawback
    assert ("EUR", "discount", "0.00") in seen
    for row in rows:
        for column in AMOUNTS:
            assert MAJOR_UNITS[row["currency"]].match(row[column]), (column, row)


async def test_jsonl_gives_the_same_rows_as_csv(service: Service) -> None:
    response = await export(service, "jsonl")
    assert response.headers["content-type"].startswith("application/x-ndjson")
    lines = response.text.splitlines()
    assert response.text.endswith("\n")
    objects = [json.loads(line) for line in lines]
    assert all(list(obj) == COLUMNS for obj in objects)
    rows = await export_rows(service)
    assert [{k: v or None for k, v in row.items()} for row in rows] == objects


def filter_cases(scenario: dict[str, Any]) -> list[dict[str, str]]:
    days = scenario["days"]
    return [
        {"affiliate_id": scenario["anna"]["id"]},
        {"affiliate_id": scenario["bob"]["id"], "kind": "payout"},
        {"campaign_id": scenario["jpy"]["id"]},
        {"kind": "refund"},
        {"kind": "reversal"},
        {"kind": "adjustment"},
        {"from": instant(days[1]), "to": instant(days[12])},
        {"from": instant(days[12])},
        {"to": instant(days[1]), "campaign_id": scenario["eur"]["id"]},
    ]


async def test_filters_select_the_same_rows_as_the_ledger_api(service: Service) -> None:
    for params in filter_cases(service.scenario):
        expected = [e["id"] for e in await ledger_items(service.client, service.accountant, params)]
        assert expected, params
        assert [row["id"] for row in await export_rows(service, params)] == expected, params
        jsonl = (await export(service, "jsonl", params)).text.splitlines()
        assert [json.loads(line)["id"] for line in jsonl] == expected, params


async def test_empty_export_still_has_the_header(service: Service) -> None:
    later = {"from": instant(service.scenario["days"][12] + timedelta(days=1))}
    assert (await export(service, "csv", later)).text == HEADER + "\r\n"
    assert (await export(service, "jsonl", later)).text == ""
    nobody = {"affiliate_id": encode(Kind.AFFILIATE, 10**9)}
    assert (await export(service, "csv", nobody)).text == HEADER + "\r\n"


async def test_note_with_a_comma_a_quote_and_a_newline_round_trips(service: Service) -> None:
    text = (await export(service, "csv", {"kind": "adjustment"})).text
    assert '"correction, ""Q3"" bonus\nreverted"' in text
    notes = [row["note"] for row in parse_csv(text)]
    assert notes == ["welcome bonus", LEDGER_NOTE]


async def test_export_spanning_several_batches_has_one_header_and_every_row(
    service: Service,
) -> None:
    """More rows than one server-side fetch (5000) for an affiliate of its own."""
    engine = create_engine(service.settings)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            affiliate = await make_affiliate(session, now=service.clock(), name="Bulk")
            now = service.clock()
            await session.execute(
                insert(LedgerEntry),
                [
                    {
                        "created_at": now,
                        "kind": "adjustment",
                        "affiliate_id": affiliate.id,
                        "currency": "EUR",
                        "order_amount": 0,
                        "discount": 0,
                        "commission": n,
                        "available_at": now,
                        "note": f"bulk {n}",
                    }
                    for n in range(1, 10_002)
                ],
            )
    finally:
        await engine.dispose()
    params = {"affiliate_id": encode(Kind.AFFILIATE, affiliate.id)}
    text = (await export(service, "csv", params)).text
    assert text.count(HEADER) == 1
    rows = parse_csv(text)
    assert [row["note"] for row in rows] == [f"bulk {n}" for n in range(1, 10_002)]
    assert sum(minor_units(row["commission"], "EUR") for row in rows) == 10_001 * 10_002 // 2
    jsonl = (await export(service, "jsonl", params)).text.splitlines()
    assert len(jsonl) == 10_001


FORMULAS = ['=HYPERLINK("http://evil.test")', "+1+1", "-2", "@SUM(A1)", "\tcmd", "\rcmd"]


async def test_client_text_that_a_spreadsheet_would_run_is_neutralised(service: Service) -> None:
    """OWASP CSV injection: order ids, codes and notes starting with = + - @ TAB or CR
    get a leading single quote in CSV (JSON lines keep the text as written); the
    amounts the service writes stay numbers, negative ones included."""
    engine = create_engine(service.settings)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            affiliate = await make_affiliate(session, now=service.clock(), name="Formula")
            now = service.clock()
            await session.execute(
                insert(LedgerEntry),
                [
                    {
                        "created_at": now,
                        "kind": "adjustment",
                        "affiliate_id": affiliate.id,
                        "order_id": text,
                        "code": text,
                        "currency": "EUR",
                        "order_amount": 0,
                        "discount": 0,
                        "commission": -500,
                        "available_at": now,
                        "note": text,
                    }
                    for text in [*FORMULAS, "plain - text", "'quoted"]
                ],
            )
    finally:
        await engine.dispose()
    params = {"affiliate_id": encode(Kind.AFFILIATE, affiliate.id)}
    rows = await export_rows(service, params)
    expected = [f"'{text}" for text in FORMULAS] + ["plain - text", "'quoted"]
    for column in ("order_id", "code", "note"):
        assert [row[column] for row in rows] == expected, column
    assert {row["commission"] for row in rows} == {"-5.00"}
    jsonl = (await export(service, "jsonl", params)).text.splitlines()
    assert [json.loads(line)["note"] for line in jsonl] == [*FORMULAS, "plain - text", "'quoted"]
