"""Reading the ledger, adjustments, payouts and the commission report.

Status is derived, never stored: ``pending`` before ``available_at``, then
``approved``, and ``paid`` once a payout's items cover the entry. Payouts
pay, per affiliate and currency, the approved and unpaid entries as of an
instant when their sum reaches the affiliate's threshold; an entry can be
covered only once (primary key of payout_items), so nothing is paid twice.

Sums are exact (Python ints; PostgreSQL sums bigints as numeric) and every
one that is answered stays within ``MAX_SAFE_INTEGER``, the largest number a
JSON client reads exactly: the bounds of ``promo.money`` keep realistic sums
far below it, and past it a report is refused and a payout pays what fits.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

import msgspec
from sqlalchemy import Table, and_, case, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import ColumnElement

from promo.affiliates.models import Affiliate
from promo.db import dialect
from promo.errors import Invalid, NotFound
from promo.events import outbox
from promo.events.outbox import EventType
from promo.ledger import entries as ledger
from promo.ledger.models import LedgerEntry, Payout, PayoutItem
from promo.ledger.schemas import PayoutRead, payout_fields
from promo.money import MAX_SAFE_INTEGER, is_currency, is_json_safe

entries = cast(Table, LedgerEntry.__table__)
items = cast(Table, PayoutItem.__table__)
payouts = cast(Table, Payout.__table__)
# Serialises payout runs on PostgreSQL (SQLite serialises all writers anyway).
PAYOUT_LOCK_KEY = 0x70726F6D6F  # "promo"


class Filters(msgspec.Struct, frozen=True):
    start: datetime | None = None
    end: datetime | None = None
    affiliate_id: int | None = None
    campaign_id: int | None = None
    kind: str | None = None


def filter_clauses(filters: Filters) -> list[ColumnElement[bool]]:
    clauses: list[ColumnElement[bool]] = []
    if filters.start is not None:
        clauses.append(entries.c.created_at >= filters.start)
    if filters.end is not None:
        clauses.append(entries.c.created_at < filters.end)
    if filters.affiliate_id is not None:
        clauses.append(entries.c.affiliate_id == filters.affiliate_id)
    if filters.campaign_id is not None:
        clauses.append(entries.c.campaign_id == filters.campaign_id)
    if filters.kind is not None:
        clauses.append(entries.c.kind == filters.kind)
    return clauses


def entries_with_payout() -> Any:
    """Ledger columns plus ``paid_by``: the payout covering the entry, if any."""
    return select(
        *entries.c,
        func.coalesce(entries.c.payout_id, items.c.payout_id).label("paid_by"),
    ).select_from(entries.outerjoin(items, items.c.entry_id == entries.c.id))


def status_of(kind: str, available_at: datetime, paid_by: int | None, now: datetime) -> str:
    if kind == "payout" or paid_by is not None:
        return "paid"
    return "pending" if available_at > now else "approved"


async def list_entries(
    session: AsyncSession, filters: Filters, *, after_id: int | None, limit: int
) -> list[Any]:
    query = (
        entries_with_payout().where(*filter_clauses(filters)).order_by(entries.c.id).limit(limit)
    )
    if after_id is not None:
        query = query.where(entries.c.id > after_id)
    return list((await session.execute(query)).all())


async def adjust(
    session: AsyncSession,
    *,
    affiliate_id: int | None,
    currency: str,
    commission: int,
    note: str,
    now: datetime,
) -> int:
    """A manual bonus or correction, available at once."""
    if affiliate_id is None or await session.get(Affiliate, affiliate_id) is None:
        raise NotFound("affiliate_not_found", "No such affiliate")
    if not is_currency(currency):
        raise Invalid.field("currency", f"unknown ISO 4217 currency {currency!r}")
    return await ledger.append(
        session,
        kind="adjustment",
        now=now,
        currency=currency,
        affiliate_id=affiliate_id,
        commission=commission,
        note=note,
    )


async def entry(session: AsyncSession, entry_id: int) -> Any:
    row = (await session.execute(entries_with_payout().where(entries.c.id == entry_id))).first()
    if row is None:
        raise NotFound("ledger_entry_not_found", "No such ledger entry")
    return row


class PlannedPayout(msgspec.Struct, frozen=True):
    """One payout a run would make: the affiliate, currency, amount and the
    ledger entries it would cover."""

    affiliate_id: int
    currency: str
    amount: int
    entry_ids: tuple[int, ...]


def _check_as_of(as_of: datetime, now: datetime) -> None:
    if as_of > now:
        # Entries still in their holding period would be paid early.
        raise Invalid.field("as_of", "cannot be in the future")


async def plan_payouts(
    session: AsyncSession, *, as_of: datetime, now: datetime
) -> list[PlannedPayout]:
    """What a run as of ``as_of`` pays, in (affiliate, currency) order, without
    writing anything: every affiliate and currency whose approved, unpaid
    balance at ``as_of`` reaches its threshold (none set: any positive balance).
    The preview shows it; ``run_payouts`` writes it."""
    _check_as_of(as_of, now)
    unpaid = await session.execute(
        select(entries.c.id, entries.c.affiliate_id, entries.c.currency, entries.c.commission)
        .select_from(entries.outerjoin(items, items.c.entry_id == entries.c.id))
        .where(
            items.c.entry_id.is_(None),
            entries.c.affiliate_id.is_not(None),
            entries.c.kind != "payout",
            entries.c.available_at <= as_of,
        )
        .order_by(entries.c.id)
    )
    groups: dict[tuple[int, str], list[tuple[int, int]]] = defaultdict(list)
    for row in unpaid:
        groups[(row.affiliate_id, row.currency)].append((row.id, row.commission))
    groups = {group: payable(covered) for group, covered in groups.items()}
    if not groups:
        return []
    thresholds = {
        row.id: row.payout_thresholds or {}
        for row in await session.execute(
            select(Affiliate.id, Affiliate.payout_thresholds).where(
                Affiliate.id.in_({affiliate for affiliate, _ in groups})
            )
        )
    }
    plan: list[PlannedPayout] = []
    for (affiliate_id, currency), covered in sorted(groups.items()):
        balance = sum(commission for _, commission in covered)
        threshold = thresholds.get(affiliate_id, {}).get(currency)
        if balance <= 0 or (threshold is not None and balance < threshold):
            continue  # carried forward; never paid out negative
        plan.append(
            PlannedPayout(
                affiliate_id=affiliate_id,
                currency=currency,
                amount=balance,
                entry_ids=tuple(entry_id for entry_id, _ in covered),
            )
        )
    return plan


async def run_payouts(session: AsyncSession, *, as_of: datetime, now: datetime) -> list[int]:
    """Make the payouts ``plan_payouts`` finds, each with its event
    payout.created. Returns payout ids."""
    _check_as_of(as_of, now)
    if dialect.is_postgres(session):
        await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": PAYOUT_LOCK_KEY})
    paid: list[int] = []
    for planned in await plan_payouts(session, as_of=as_of, now=now):
        affiliate_id, currency, balance = planned.affiliate_id, planned.currency, planned.amount
        payout_id = await session.scalar(
            insert(payouts)
            .values(
                affiliate_id=affiliate_id,
                currency=currency,
                amount=balance,
                as_of=as_of,
                created_at=now,
            )
            .returning(payouts.c.id)
        )
        assert payout_id is not None  # noqa: S101 (RETURNING of an insert)
        await session.execute(
            insert(items),
            [{"entry_id": entry_id, "payout_id": payout_id} for entry_id in planned.entry_ids],
        )
        await ledger.append(
            session,
            kind="payout",
            now=now,
            currency=currency,
            affiliate_id=affiliate_id,
            commission=-balance,
            payout_id=payout_id,
            note=f"payout as of {as_of.isoformat()}",
        )
        made = Payout(
            id=payout_id,
            affiliate_id=affiliate_id,
            currency=currency,
            amount=balance,
            as_of=as_of,
            created_at=now,
        )
        await outbox.emit(
            session, EventType.PAYOUT_CREATED, PayoutRead(**payout_fields(made)), now=now
        )
        paid.append(int(payout_id))
    return paid


def payable(covered: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The entries (id, commission) one payout may cover: in id order, up to the
    first that would take the amount past ``MAX_SAFE_INTEGER``; the rest wait
    for the next run, so no payout amount is a number JSON clients misread."""
    total = 0
    for position, (_, commission) in enumerate(covered):
        total += commission
        if total > MAX_SAFE_INTEGER:
            return covered[:position]
    return covered


async def list_payouts(
    session: AsyncSession,
    *,
    affiliate_id: int | None,
    currency: str | None,
    after_id: int | None,
    limit: int,
) -> list[Any]:
    """Payouts in id order, each with ``entries``: how many entries it covers."""
    covered = (
        select(func.count())
        .where(items.c.payout_id == payouts.c.id)
        .scalar_subquery()
        .label("entries")
    )
    query = select(*payouts.c, covered).order_by(payouts.c.id).limit(limit)
    if after_id is not None:
        query = query.where(payouts.c.id > after_id)
    if affiliate_id is not None:
        query = query.where(payouts.c.affiliate_id == affiliate_id)
    if currency is not None:
        query = query.where(payouts.c.currency == currency)
    return list((await session.execute(query)).all())


async def payout_with_entries(
    session: AsyncSession, payout_id: int, *, affiliate_id: int | None = None
) -> tuple[Any, list[Any]]:
    """The payout and the entries it covers, in id order; 404 when there is none,
    or, with ``affiliate_id``, when it is another affiliate's."""
    payout = (await session.execute(select(payouts).where(payouts.c.id == payout_id))).first()
    if payout is None or (affiliate_id is not None and payout.affiliate_id != affiliate_id):
        raise NotFound("payout_not_found", "No such payout")
    covered = await session.execute(
        entries_with_payout().where(items.c.payout_id == payout_id).order_by(entries.c.id)
    )
    return payout, list(covered.all())


class Totals(msgspec.Struct, frozen=True):
    affiliate_id: int | None
    currency: str
    orders: int
    revenue: int
    discount: int
    pending: int
    approved: int
    paid: int
    balance: int


SUMS = ("orders", "revenue", "discount", "pending", "approved", "paid", "balance")


def _totals_query(now: datetime) -> Any:
    paid_by = func.coalesce(entries.c.payout_id, items.c.payout_id)
    commission = entries.c.commission
    not_payout = entries.c.kind != "payout"

    def total(condition: ColumnElement[bool]) -> Any:
        return func.coalesce(func.sum(case((condition, commission), else_=0)), 0)

    return (
        select(
            entries.c.affiliate_id,
            entries.c.currency,
            func.coalesce(func.sum(case((entries.c.kind == "redemption", 1), else_=0)), 0).label(
                "orders"
            ),
            func.coalesce(func.sum(entries.c.order_amount), 0).label("revenue"),
            func.coalesce(func.sum(entries.c.discount), 0).label("discount"),
            total(and_(not_payout, paid_by.is_(None), entries.c.available_at > now)).label(
                "pending"
            ),
            total(and_(not_payout, paid_by.is_(None), entries.c.available_at <= now)).label(
                "approved"
            ),
            total(and_(not_payout, paid_by.is_not(None))).label("paid"),
            func.coalesce(func.sum(commission), 0).label("balance"),
        )
        .select_from(entries.outerjoin(items, items.c.entry_id == entries.c.id))
        .group_by(entries.c.affiliate_id, entries.c.currency)
        .order_by(entries.c.affiliate_id, entries.c.currency)
    )


async def commission_report(
    session: AsyncSession, filters: Filters, *, now: datetime
) -> list[Totals]:
    """Per affiliate and currency over the ledger rows that ``filters`` select."""
    rows = await session.execute(_totals_query(now).where(*filter_clauses(filters)))
    # PostgreSQL sums bigints as numeric (Decimal); the amounts are integers.
    totals = [
        {k: int(v) if isinstance(v, Decimal) else v for k, v in row._asdict().items()}
        for row in rows
    ]
    for total in totals:
        if not all(is_json_safe(total[name]) for name in SUMS):
            raise Invalid(
                "total_out_of_range",
                f"a total in {total['currency']} exceeds {MAX_SAFE_INTEGER}, the largest "
                "number JSON clients read exactly; report a shorter period (from, to)",
            )
    return [msgspec.convert(total, Totals) for total in totals]
