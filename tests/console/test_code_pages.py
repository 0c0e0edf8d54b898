"""Marketers' code and batch pages over HTTP: the API's functions behind each form."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from promo.audit import AuditEntry
from promo.campaigns.models import Campaign
from promo.codes.models import Code
from promo.ids import Kind, encode
from tests.support.clock import FrozenClock
from tests.support.console import Browser
from tests.support.factories import campaign_row, make_affiliate


@pytest.fixture
async def campaign(db: AsyncSession, clock: FrozenClock) -> str:
    row = campaign_row(name="Summer", now=clock())
    db.add(row)
    await db.flush()
    return encode(Kind.CAMPAIGN, row.id)


async def test_a_vanity_code_is_created_found_and_disabled(
    marketer: Browser, db: AsyncSession, clock: FrozenClock, campaign: str
) -> None:
    anna = await make_affiliate(db, now=clock())
    await marketer.get(f"/console/campaigns/{campaign}/codes")
    made = await marketer.post(
        f"/console/campaigns/{campaign}/codes",
        {"code": "ANNA10", "affiliate_id": encode(Kind.AFFILIATE, anna.id), "channel": "Instagram"},
    )
    assert made.status_code == 302, made.text
    found = await marketer.get(f"/console/campaigns/{campaign}/codes?q=anna-10")
    assert "<code>ANNA10</code>" in found.text
    assert "instagram" in found.text
    code = await db.scalar(select(Code).where(Code.code == "ANNA10"))
    assert code is not None
    assert code.affiliate_id == anna.id
    off = await marketer.post("/console/codes/ANNA10/active", {"active": "false"})
    assert off.status_code == 302
    await db.refresh(code)
    assert code.active is False
    actions = list(await db.scalars(select(AuditEntry.action).where(AuditEntry.actor == "console")))
    assert actions[-2:] == ["code.create", "code.update"]


async def test_a_taken_code_is_refused_beside_the_field(marketer: Browser, campaign: str) -> None:
    await marketer.get(f"/console/campaigns/{campaign}/codes")
    await marketer.post(f"/console/campaigns/{campaign}/codes", {"code": "SUMMER20"})
    await marketer.get(f"/console/campaigns/{campaign}/codes")
    again = await marketer.post(f"/console/campaigns/{campaign}/codes", {"code": "summer-20"})
    assert again.status_code == 422
    assert "already" in again.text or "taken" in again.text
    bad = await marketer.post(f"/console/campaigns/{campaign}/codes", {"code": "A"})
    assert bad.status_code == 422
    assert 'id="code-error"' in bad.text


async def test_a_small_batch_is_generated_at_once_and_downloaded(
    marketer: Browser, db: AsyncSession, campaign: str
) -> None:
    await marketer.get(f"/console/campaigns/{campaign}/batches")
    started = await marketer.post(
        f"/console/campaigns/{campaign}/batches", {"count": "25", "pattern": "SUM-######"}
    )
    assert started.status_code == 302, started.text
    batch_page = started.headers["location"].split("?")[0]
    shown = await marketer.get(batch_page)
    assert "25 / 25" in shown.text
    assert "data-poll" not in shown.text
    download = await marketer.get(f"{batch_page}/codes.csv")
    rows = list(csv.DictReader(io.StringIO(download.text)))
    assert len(rows) == 25
    assert all(re.fullmatch(r"SUM-\w{6}", row["code"]) for row in rows)
    await marketer.post(f"{batch_page}/active", {"active": "false"})
    live = await db.scalar(select(func.count()).select_from(Code).where(Code.active))
    assert live == 0


async def test_a_large_batch_runs_as_a_job_and_its_page_follows_it(
    marketer: Browser, db: AsyncSession, campaign: str
) -> None:
    await marketer.get(f"/console/campaigns/{campaign}/batches")
    started = await marketer.post(
        f"/console/campaigns/{campaign}/batches", {"count": "1500", "pattern": "BIG-########"}
    )
    assert started.status_code == 302, started.text
    batch_page = started.headers["location"].split("?")[0]
    progress = (await marketer.get(f"{batch_page}/progress")).json()
    assert progress == {"total": 1500, "done": 1500, "finished": True, "text": "1500 / 1500"}
    assert await db.scalar(select(func.count()).select_from(Code)) == 1500


async def test_a_too_guessable_pattern_is_refused_beside_it(
    marketer: Browser, db: AsyncSession, campaign: str
) -> None:
    await marketer.get(f"/console/campaigns/{campaign}/batches")
    refused = await marketer.post(
        f"/console/campaigns/{campaign}/batches", {"count": "500", "pattern": "AB-###"}
    )
    assert refused.status_code == 422
    beside = re.search(r'id="count-error">([^<]*)<', refused.text)
    assert beside
    assert "at most 2 for this pattern" in beside.group(1)
    assert await db.scalar(select(func.count()).select_from(Code)) == 0
    assert await db.scalar(select(func.count()).select_from(Campaign)) == 1


async def test_a_code_gets_its_own_window_and_a_customer_from_the_forms(
    marketer: Browser, db: AsyncSession, clock: FrozenClock, campaign: str
) -> None:
    await marketer.get(f"/console/campaigns/{campaign}/codes")
    made = await marketer.post(
        f"/console/campaigns/{campaign}/codes",
        {"code": "SORRY5", "expires_at": "2026-07-10T18:00", "customer_id": "console-cus-1"},
    )
    assert made.status_code == 302, made.text
    code = await db.scalar(select(Code).where(Code.code == "SORRY5"))
    assert code is not None
    assert code.expires_at == datetime(2026, 7, 10, 18, 0, tzinfo=UTC)
    assert code.customer_ref is not None
    shown = await marketer.get(f"/console/campaigns/{campaign}/codes?q=SORRY5")
    assert "for one customer" in shown.text
    assert "console-cus-1" not in shown.text
    changed = await marketer.post(
        f"/console/campaigns/{campaign}/codes/validity",
        {"code": "sorry-5", "starts_at": "2026-07-02T09:00", "expires_at": ""},
    )
    assert changed.status_code == 302, changed.text
    await db.refresh(code)
    assert (code.starts_at, code.expires_at) == (datetime(2026, 7, 2, 9, 0, tzinfo=UTC), None)
    crossed = await marketer.post(
        f"/console/campaigns/{campaign}/codes/validity",
        {"code": "SORRY5", "starts_at": "2026-07-02T09:00", "expires_at": "2026-07-01T09:00"},
    )
    assert crossed.status_code == 422
    assert 'id="validity-expires_at-error"' in crossed.text


async def test_a_customer_list_is_uploaded_followed_and_downloaded(
    marketer: Browser, db: AsyncSession, campaign: str
) -> None:
    await marketer.get(f"/console/campaigns/{campaign}/batches")
    listed = b"email\nupload-one@example.com\nupload-two@example.com\n"
    started = await marketer.post(
        f"/console/campaigns/{campaign}/batches/customers",
        {"pattern": "WIN-######", "valid_for": "P14D"},
        files={"customers": ("list.csv", listed, "text/csv")},
    )
    assert started.status_code == 302, started.text
    batch_page = started.headers["location"].split("?")[0]
    shown = await marketer.get(batch_page)
    assert "2 / 2" in shown.text
    assert "customers-download" in shown.text
    download = await marketer.get(f"{batch_page}/customers.csv")
    rows = list(csv.DictReader(io.StringIO(download.text)))
    assert [row["customer"] for row in rows] == ["upload-one@example.com", "upload-two@example.com"]
    assert all(re.fullmatch(r"WIN-\w{6}", row["code"]) for row in rows)
    bad = await marketer.post(
        f"/console/campaigns/{campaign}/batches/customers",
        {"pattern": "WIN-######"},
        files={"customers": ("list.csv", b"a-1\na-1\n", "text/csv")},
    )
    assert bad.status_code == 422
    assert "the same customer as line 1" in bad.text


async def test_the_customer_list_form_is_in_french(marketer: Browser, campaign: str) -> None:
    await marketer.get("/console/account")
    await marketer.post("/console/account/language", {"locale": "fr"})
    page = await marketer.get(f"/console/campaigns/{campaign}/batches")
    assert "Émettre des codes pour une liste de clients" in page.text
