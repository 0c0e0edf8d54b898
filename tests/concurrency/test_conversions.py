"""A conversion reported 20 times at once is credited once, across two worker
processes: with 20 keys the unique (kind, external id) index refuses 19; with
one key the 19 others replay the first answer."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

import httpx
from sqlalchemy import func, select

from promo.auth.roles import Role
from promo.conversions.models import Conversion
from promo.ledger.models import LedgerEntry
from tests.concurrency.conftest import Live
from tests.concurrency.test_redemption_limits import new_campaign, new_code, unique

TIMES = 20


async def program(http: httpx.AsyncClient, live: Live) -> str:
    """A code of an affiliate whose campaign's plan pays 300 per lead."""
    marketer = live.headers[Role.MARKETER]
    plan = await http.post(
        "/v1/commission-plans",
        json={"name": unique("p"), "currency": "EUR", "action_fees": {"lead": 300}},
        headers=marketer,
    )
    assert plan.status_code == 201, plan.text
    affiliate = await http.post(
        "/v1/affiliates",
        json={"name": "Lead", "email": f"{unique('a').lower()}@partners.test"},
        headers=marketer,
    )
    assert affiliate.status_code == 201, affiliate.text
    campaign = await new_campaign(http, live, commission={"plan_id": plan.json()["id"]})
    return await new_code(http, live, campaign["id"], affiliate_id=affiliate.json()["id"])


async def credited(live: Live, external_id: str) -> tuple[int, int]:
    async with live.engine.connect() as connection:
        rows = await connection.scalar(
            select(func.count()).where(Conversion.external_id == external_id)
        )
        entries = await connection.scalar(
            select(func.count())
            .select_from(LedgerEntry)
            .join(Conversion, Conversion.id == LedgerEntry.conversion_id)
            .where(Conversion.external_id == external_id)
        )
    return int(rows or 0), int(entries or 0)


async def test_a_duplicate_sent_20_times_at_once_counts_once(
    http: httpx.AsyncClient, live: Live
) -> None:
    code = await program(http, live)
    external_id = f"lead-{uuid.uuid4().hex}"

    async def send(key: str) -> httpx.Response:
        return await http.post(
            "/v1/conversions",
            json={"kind": "lead", "external_id": external_id, "code": code},
            headers={**live.headers[Role.CHECKOUT], "Idempotency-Key": key},
        )

    answers = await asyncio.gather(*(send(f"k-{uuid.uuid4()}") for _ in range(TIMES)))
    statuses = Counter(r.status_code for r in answers)
    assert statuses == {201: 1, 409: TIMES - 1}, live.server.log_tail(120)
    assert {r.json()["code"] for r in answers if r.status_code == 409} == {"conversion_duplicate"}
    assert await credited(live, external_id) == (1, 1)

    again = f"lead-{uuid.uuid4().hex}"
    external_id = again
    same_key = f"k-{uuid.uuid4()}"
    replies = await asyncio.gather(*(send(same_key) for _ in range(TIMES)))
    # Every answer is the first one (201), or, for a twin that found it still
    # running past the wait, 409 request_in_progress; never a second credit.
    first = [r.json() for r in replies if r.status_code == 201]
    assert first
    assert all(body == first[0] for body in first)
    assert {r.status_code for r in replies} <= {201, 409}
    assert await credited(live, again) == (1, 1)
