"""Sums of money stay exact and JSON-safe: reports, balances and payouts over many
maximal entries answer 2xx with the exact totals, and a total that no JSON
client could read exactly is refused (report) or split (payout), never a 500
and never a corrupted number.

Rows are inserted directly (the ledger is append-only: inserts only), as the
checkout would have written them with the largest amounts the edge accepts.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from promo.auth.roles import Role
from promo.ids import Kind, encode
from promo.ledger.models import LedgerEntry
from promo.money import MAX_AMOUNT, MAX_ENTRY, MAX_SAFE_INTEGER
from tests.support.api import run_payouts
from tests.support.clock import FrozenClock
from tests.support.factories import bearer, make_affiliate

# Enough entries that, at the old per-amount bound (2**53 - 1), their sums would
# pass 2**63; at today's bounds they total about 8e12.
MANY = 4096


@pytest.fixture
def accountant(keys: dict[Role, str]) -> dict[str, str]:
    return bearer(keys[Role.ACCOUNTANT])


def maximal_sale(affiliate_id: int, clock: FrozenClock) -> dict[str, Any]:
    """A redemption entry with the largest amounts the edge lets through, approved."""
    return {
        "created_at": clock() - timedelta(days=40),
        "kind": "redemption",
        "order_id": "o-max",
        "code": "MAX",
        "affiliate_id": affiliate_id,
        "currency": "EUR",
        "order_amount": MAX_AMOUNT,
        "discount": MAX_ENTRY,
        "commission": MAX_ENTRY,
        "available_at": clock() - timedelta(days=10),
    }


async def insert_entries(db: AsyncSession, row: dict[str, Any], count: int) -> None:
    await (await db.connection()).execute(insert(LedgerEntry), [row] * count)


async def report_rows(client: httpx.AsyncClient, accountant: dict[str, str]) -> Any:
    response = await client.get("/v1/reports/commissions", headers=accountant)
    assert response.status_code == 200, response.text
    return response.json()["rows"]


async def test_payouts_and_reports_over_many_maximal_entries_are_exact(
    client: httpx.AsyncClient, db: AsyncSession, accountant: dict[str, str], clock: FrozenClock
) -> None:
    affiliate = await make_affiliate(db, now=clock())
    await insert_entries(db, maximal_sale(affiliate.id, clock), MANY)
    public = encode(Kind.AFFILIATE, affiliate.id)

    (row,) = await report_rows(client, accountant)
    assert (row["affiliate_id"], row["orders"]) == (public, MANY)
    assert row["revenue"] == MANY * MAX_AMOUNT
    assert row["discount"] == row["commission_approved"] == row["balance"] == MANY * MAX_ENTRY

    response = await run_payouts(client, accountant, clock())
    assert response.status_code == 201, response.text
    (payout,) = response.json()["payouts"]
    assert (payout["affiliate_id"], payout["amount"]) == (public, MANY * MAX_ENTRY)

    (row,) = await report_rows(client, accountant)
    assert (row["commission_paid"], row["commission_approved"], row["balance"]) == (
        MANY * MAX_ENTRY,
        0,
        0,
    )


async def test_a_total_json_clients_cannot_read_exactly_is_refused_by_name(
    client: httpx.AsyncClient, db: AsyncSession, accountant: dict[str, str], clock: FrozenClock
) -> None:
    """Entries beyond today's bounds (written before them): the sum passes 2**53 - 1."""
    affiliate = await make_affiliate(db, now=clock())
    huge = maximal_sale(affiliate.id, clock) | {"commission": MAX_SAFE_INTEGER}
    await insert_entries(db, huge, 2)

    response = await client.get("/v1/reports/commissions", headers=accountant)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "total_out_of_range"


async def test_a_payout_past_the_json_safe_range_pays_what_fits_and_the_rest_later(
    client: httpx.AsyncClient, db: AsyncSession, accountant: dict[str, str], clock: FrozenClock
) -> None:
    affiliate = await make_affiliate(db, now=clock())
    huge = maximal_sale(affiliate.id, clock) | {"commission": MAX_SAFE_INTEGER - 1}
    await insert_entries(db, huge, 2)

    amounts = []
    for _ in range(3):
        response = await run_payouts(client, accountant, clock())
        assert response.status_code == 201, response.text
        amounts.append([payout["amount"] for payout in response.json()["payouts"]])
        clock.advance(minutes=1)
    assert amounts == [[MAX_SAFE_INTEGER - 1], [MAX_SAFE_INTEGER - 1], []]
