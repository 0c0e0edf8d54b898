"""Imports of existing codes through HTTP, on SQLite and PostgreSQL (COPY there).

Inside the API suite's rolled-back transaction the import's job runs in full
before the POST is answered (the app's jobs run inline on the test's one
connection), so a 202 is followed at once by a finished import.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import msgspec
import pytest
from litestar import Litestar
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from promo.codes.import_models import CodeImportChunk, CodeImportLine
from promo.codes.models import Code
from promo.ids import Kind, decode
from tests.support.api import create_campaign, create_code
from tests.support.clock import FrozenClock

Client = httpx.AsyncClient
CSV = {"Content-Type": "text/csv"}


def url(campaign_id: str, *rest: str) -> str:
    return "/".join([f"/v1/campaigns/{campaign_id}/code-imports", *rest])


async def upload(
    client: Client, headers: dict[str, str], campaign_id: str, body: bytes | AsyncIterator[bytes]
) -> httpx.Response:
    return await client.post(url(campaign_id), content=body, headers={**headers, **CSV})


async def all_errors(client: Client, headers: dict[str, str], read: dict[str, Any]) -> list[Any]:
    items: list[Any] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = await client.get(
            url(read["campaign_id"], read["id"], "errors"), params=params, headers=headers
        )
        assert page.status_code == 200, page.text
        items += page.json()["items"]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            return items


EVERY_KIND = (
    "code,max_redemptions\n"  # 1
    "SUMMER-ANNA,1\n"  # 2 imported
    "welcome_10,\n"  # 3 imported, no limit
    "\n"  # 4 blank: skipped
    "summer anna,5\n"  # 5 the same canonical as line 2
    "TAKEN20,1\n"  # 6 a live code reads the same
    "no!,1\n"  # 7 not a code
    "BIGSPENDER,0\n"  # 8 max_redemptions out of bounds
    "ONLYONE\n"  # 9 one cell where the header names two
    '"QUOTED,1\n'  # 10 unterminated quote
    "SUMMERANNA,2\n"  # 11 line 2 again
    '"Q-1 2",3\r\n'  # 12 imported (quoted cell, CRLF)
    "LAST1,7"  # 13 imported, no final newline
)


async def test_every_kind_of_line_error_is_reported_by_line_and_valid_lines_are_imported(
    client: Client, marketer: dict[str, str], db: AsyncSession, clock: FrozenClock
) -> None:
    campaign = await create_campaign(client, marketer)
    other = await create_campaign(client, marketer, name="Other")
    await create_code(client, marketer, other["id"], "TAKEN-20")

    response = await upload(client, marketer, campaign["id"], EVERY_KIND.encode())
    assert response.status_code == 202, response.text
    created = response.json()
    assert created["id"].startswith("imp_")
    assert created["size"] == len(EVERY_KIND.encode())

    read = (await client.get(url(campaign["id"], created["id"]), headers=marketer)).json()
    assert read["status"] == "done", read
    assert (read["lines_read"], read["imported"], read["rejected"]) == (13, 4, 7)
    assert (read["bytes_read"], read["percent"]) == (read["size"], 100.0)
    assert read["error"] is None

    errors = await all_errors(client, marketer, read)
    assert [(e["line"], e["reason"], e["code"], e["duplicate_of"]) for e in errors] == [
        (5, "duplicate_in_file", "summer anna", 2),
        (6, "code_taken", "TAKEN20", None),
        (7, "invalid_code", "no!", None),
        (8, "invalid_max_redemptions", "BIGSPENDER", None),
        (9, "malformed_line", "ONLYONE", None),
        (10, "malformed_line", '"QUOTED,1', None),
        (11, "duplicate_in_file", "SUMMERANNA", 2),
    ]
    assert errors[0]["message"] == "The same code as line 2"
    assert errors[2]["message"].startswith("Not a code: only letters")
    assert "1 cells where the header names 2" in errors[4]["message"]

    codes = (
        await db.scalars(
            select(Code)
            .where(Code.campaign_id == decode(Kind.CAMPAIGN, campaign["id"]))
            .order_by(Code.canonical)
        )
    ).all()
    assert [(c.code, c.canonical, c.max_redemptions, c.kind) for c in codes] == [
        ("LAST1", "1AST1", 7, "vanity"),
        ("Q-1 2", "Q12", 3, "vanity"),
        ("SUMMER-ANNA", "SUMMERANNA", 1, "vanity"),
        ("welcome_10", "WE1C0ME10", None, "vanity"),
    ]
    # An ended import keeps its counts and errors, not its file.
    import_id = decode(Kind.CODE_IMPORT, read["id"])
    for table in (CodeImportChunk, CodeImportLine):
        left = await db.scalar(
            select(func.count()).select_from(table).where(table.import_id == import_id)
        )
        assert left == 0

    csv = await client.get(url(campaign["id"], read["id"], "errors.csv"), headers=marketer)
    assert csv.status_code == 200
    assert csv.headers["content-type"].startswith("text/csv")
    lines = csv.text.splitlines()
    assert lines[0] == "line,reason,message,code,duplicate_of"
    assert lines[1] == "5,duplicate_in_file,The same code as line 2,summer anna,2"
    assert len(lines) == 8

    listed = (await client.get(url(campaign["id"]), headers=marketer)).json()
    assert [i["id"] for i in listed["items"]] == [read["id"]]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "the file is empty"),
        (b"SUMMER20\nWINTER20\n", "the first line must be a header"),
        (b"code,discount\nSUMMER20,5\n", "unknown column(s) 'discount'"),
        (b"code,code\nSUMMER20,SUMMER21\n", "column(s) named twice: code"),
    ],
)
async def test_a_file_without_our_header_is_refused_naming_the_header(
    client: Client, marketer: dict[str, str], body: bytes, reason: str
) -> None:
    campaign = await create_campaign(client, marketer)
    response = await upload(client, marketer, campaign["id"], body)
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["code"] == "invalid_csv_header"
    assert problem["errors"][0]["field"] == "header"
    assert reason in problem["errors"][0]["message"]
    listed = (await client.get(url(campaign["id"]), headers=marketer)).json()
    assert listed["items"] == []


async def test_an_upload_past_the_bound_is_refused_413_and_leaves_nothing(
    client: Client, marketer: dict[str, str], app: Litestar
) -> None:
    campaign = await create_campaign(client, marketer)
    kept = app.state.settings
    app.state.settings = msgspec.structs.replace(kept, max_import_bytes=2048)
    try:
        body = b"code\n" + b"".join(b"CODE%06d\n" % n for n in range(400))

        async def pieces() -> AsyncIterator[bytes]:  # no Content-Length: counted as it streams
            yield body[:1000]
            yield body[1000:]

        for sent in (body, pieces()):
            response = await upload(client, marketer, campaign["id"], sent)
            assert response.status_code == 413, response.text
            assert response.json()["code"] == "import_too_large"
            assert response.json()["max_bytes"] == 2048
    finally:
        app.state.settings = kept
    listed = (await client.get(url(campaign["id"]), headers=marketer)).json()
    assert listed["items"] == []


async def test_imports_are_the_marketers_and_of_their_campaign(
    client: Client, marketer: dict[str, str], checkout: dict[str, str]
) -> None:
    campaign = await create_campaign(client, marketer)
    other = await create_campaign(client, marketer, name="Other")
    refused = await upload(client, checkout, campaign["id"], b"code\nSUMMER20\n")
    assert refused.status_code == 403
    read = (await upload(client, marketer, campaign["id"], b"code\nSUMMER20\n")).json()
    elsewhere = await client.get(url(other["id"], read["id"]), headers=marketer)
    assert elsewhere.status_code == 404
    assert elsewhere.json()["code"] == "import_not_found"


async def test_an_archived_campaign_takes_no_import(
    client: Client, marketer: dict[str, str]
) -> None:
    campaign = await create_campaign(client, marketer)
    patched = await client.patch(
        f"/v1/campaigns/{campaign['id']}", json={"status": "archived"}, headers=marketer
    )
    assert patched.status_code == 200, patched.text
    response = await upload(client, marketer, campaign["id"], b"code\nSUMMER20\n")
    assert response.status_code == 409
    assert response.json()["code"] == "campaign_archived"


async def test_a_million_codes_are_imported_with_their_errors_reported_by_line(
    client: Client, marketer: dict[str, str], db: AsyncSession, backend: str
) -> None:
    if backend != "postgresql":
        pytest.skip("the volume test runs on PostgreSQL (COPY)")
    count = 1_000_000
    # Every 100,000th line repeats the line before it; line 500,002 is no code.
    lines = [b"code,max_redemptions\n"]
    for n in range(count):
        if n % 100_000 == 99_999:
            lines.append(b"IMP%07d,1\n" % (n - 1))
        elif n == 500_000:
            lines.append(b"not a code!,1\n")
        else:
            lines.append(b"IMP%07d,1\n" % n)
    body = b"".join(lines)
    campaign = await create_campaign(client, marketer)

    started = time.perf_counter()
    response = await upload(client, marketer, campaign["id"], body)
    elapsed = time.perf_counter() - started
    assert response.status_code == 202, response.text
    read = (await client.get(url(campaign["id"], response.json()["id"]), headers=marketer)).json()
    print(f"\nimported {read['imported']} codes from {len(body)} bytes in {elapsed:.1f} s")
    assert read["status"] == "done"
    assert (read["lines_read"], read["imported"], read["rejected"]) == (
        count + 1,
        count - 11,
        11,
    )
    errors = (await client.get(url(campaign["id"], read["id"], "errors"), headers=marketer)).json()[
        "items"
    ]
    expected = [(n + 2, "duplicate_in_file", n + 1) for n in range(99_999, count, 100_000)]
    expected.append((500_002, "invalid_code", None))
    assert sorted((e["line"], e["reason"], e["duplicate_of"]) for e in errors) == sorted(expected)
    stored = await db.scalar(
        select(func.count())
        .select_from(Code)
        .where(Code.campaign_id == decode(Kind.CAMPAIGN, campaign["id"]))
    )
    assert stored == count - 11
