"""Marketers' code imports in the console: upload a file, follow its import,
read its refused lines, in English and French."""

from __future__ import annotations

import re

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from promo.audit import AuditEntry
from promo.codes.models import Code
from promo.ids import Kind, encode
from tests.support.clock import FrozenClock
from tests.support.console import Browser
from tests.support.factories import campaign_row

FILE = b"code,max_redemptions\nSUMMER-ANNA,1\nsummer anna,2\nno!,1\nWELCOME10,\n"


@pytest.fixture
async def campaign(db: AsyncSession, clock: FrozenClock) -> str:
    row = campaign_row(name="Summer", now=clock())
    db.add(row)
    await db.flush()
    return encode(Kind.CAMPAIGN, row.id)


async def send(browser: Browser, campaign: str, content: bytes, name: str) -> httpx.Response:
    await browser.get(f"/console/campaigns/{campaign}/imports")
    return await browser.client.post(
        f"/console/campaigns/{campaign}/imports",
        data={"_csrf_token": browser.token},
        files={"file": (name, content, "text/csv")},
    )


async def test_an_uploaded_file_is_imported_and_its_refused_lines_listed(
    marketer: Browser, db: AsyncSession, campaign: str
) -> None:
    codes = await marketer.get(f"/console/campaigns/{campaign}/codes")
    assert f'href="/console/campaigns/{campaign}/imports"' in codes.text

    sent = await send(marketer, campaign, FILE, "old-system.csv")
    assert sent.status_code == 302, sent.text
    location = sent.headers["location"]
    assert re.fullmatch(rf"/console/campaigns/{campaign}/imports/imp_\w+\?notice=created", location)

    shown = await marketer.get(location)
    assert shown.status_code == 200
    assert "old-system.csv" in shown.text
    assert 'id="import-imported">2<' in shown.text
    assert 'id="import-rejected">2<' in shown.text
    assert "Repeats an earlier line" in shown.text
    assert "the same code as line 2" in shown.text
    assert "Not a valid code" in shown.text
    assert "data-poll" not in shown.text  # done: nothing to follow
    download = await marketer.get(location.split("?")[0] + "/errors.csv")
    assert download.status_code == 200
    assert download.text.splitlines()[1:] == [
        "3,duplicate_in_file,The same code as line 2,summer anna,2",
        '4,invalid_code,"Not a code: only letters A-Z, digits, spaces, '
        "'-' and '_' are allowed\",no!,",
    ]
    listed = await marketer.get(f"/console/campaigns/{campaign}/imports")
    assert "old-system.csv" in listed.text

    loaded = set(await db.scalars(select(Code.code).where(Code.kind == "vanity")))
    assert {"SUMMER-ANNA", "WELCOME10"} <= loaded
    actions = list(await db.scalars(select(AuditEntry.action).where(AuditEntry.actor == "console")))
    assert actions[-1] == "code_import.create"

    await marketer.post("/console/account/language", {"locale": "fr"})
    french = await marketer.get(location)
    assert '<html lang="fr">' in french.text
    assert "Répète une ligne précédente" in french.text
    assert "le même code que la ligne 2" in french.text


async def test_a_file_without_our_header_is_refused_beside_the_file_field(
    marketer: Browser, campaign: str
) -> None:
    refused = await send(marketer, campaign, b"SUMMER20\nWINTER20\n", "codes.csv")
    assert refused.status_code == 422
    assert 'id="file-error"' in refused.text
    assert "the first line must be a header" in refused.text
    missing = await marketer.client.post(
        f"/console/campaigns/{campaign}/imports", data={"_csrf_token": marketer.token}
    )
    assert missing.status_code == 422
    assert "choose a CSV file" in missing.text
