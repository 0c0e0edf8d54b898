"""Retention: how long each kind of record keeps what it keeps, applied by
``promo db purge`` (run it from cron, e.g. hourly).

- Idempotency-Key answers: deleted once older than ``PROMO_RETAIN_ANSWERS_HOURS``
  (7 days by default; never under the 24 hours the API promises a retry).
- Audit entries: who did what to which target, and when, are kept for good;
  their details (what was asked: a campaign's fields, a key's name) are
  cleared once older than ``PROMO_RETAIN_AUDIT_DETAILS_DAYS`` (400 by default:
  a year's books and their audit).
- Counters that hold nothing (a customer's usage at 0, live orders at 0,
  after rollbacks) are deleted whenever the purge runs: they carry a
  customer's ref and no information (a missing row counts as 0).

Never purged: redemptions, ledger entries and payouts (the books), and the
refs on them, which per-customer limits need for as long as the campaign
counts; a person's refs go with an erasure (promo.customers).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, cast

import msgspec
from sqlalchemy import Table, Text, delete, update
from sqlalchemy import cast as sql_cast
from sqlalchemy.ext.asyncio import AsyncSession

from promo.audit import audit_log
from promo.checkout import idempotency
from promo.checkout.models import CustomerOrders, CustomerUsage
from promo.settings import Settings

usage = cast(Table, CustomerUsage.__table__)
orders = cast(Table, CustomerOrders.__table__)

PURGED_DETAILS: dict[str, Any] = {"purged": True}
# As both databases keep that JSON (PostgreSQL's json type has no equality).
PURGED_TEXT = '{"purged": true}'


class Retention(msgspec.Struct, frozen=True):
    answers_hours: int
    audit_details_days: int

    @classmethod
    def of(cls, settings: Settings) -> Retention:
        return cls(settings.retain_answers_hours, settings.retain_audit_details_days)


class Purged(msgspec.Struct, frozen=True):
    answers: int
    audit_details: int
    empty_counters: int


def _count(result: Any) -> int:
    return int(result.rowcount or 0)


async def purge(session: AsyncSession, retention: Retention, *, now: datetime) -> Purged:
    """Apply ``retention`` as of ``now`` in the caller's transaction."""
    answers = await idempotency.purge(
        session, older_than=now - timedelta(hours=retention.answers_hours)
    )
    details = _count(
        await session.execute(
            update(audit_log)
            .where(
                audit_log.c.at < now - timedelta(days=retention.audit_details_days),
                sql_cast(audit_log.c.details, Text) != PURGED_TEXT,
            )
            .values(details=PURGED_DETAILS)
        )
    )
    empty = _count(await session.execute(delete(usage).where(usage.c.used == 0)))
    empty += _count(await session.execute(delete(orders).where(orders.c.live == 0)))
    return Purged(answers=answers, audit_details=details, empty_counters=empty)
