"""Retention: how long each kind of record keeps what it keeps, applied by
``promo db purge`` (run it from cron, e.g. hourly).

- Idempotency-Key answers: deleted once older than ``PROMO_RETAIN_ANSWERS_HOURS``
  (7 days by default; never under the 24 hours the API promises a retry).
- Audit entries: who did what to which target, and when, are kept for good;
  their details (what was asked: a campaign's fields, a key's name) are
  cleared once older than ``PROMO_RETAIN_AUDIT_DETAILS_DAYS`` (400 by default:
  a year's books and their audit).
- Webhook events, with their deliveries and attempts: deleted once older than
  ``PROMO_RETAIN_EVENTS_DAYS`` (30) and every delivery of theirs has ended
  (delivered, or failed for good); redelivery reaches back that far.
- Jobs that are done: deleted after ``PROMO_RETAIN_FINISHED_JOBS_DAYS`` (7);
  failed ones stay until an operator retries them.
- The customer lists codes were issued to (ids and e-mails as uploaded, for
  the mailing tool's download): deleted once their batch's
  ``customers_until`` is past (``PROMO_RETAIN_CUSTOMER_LISTS_DAYS``, 7, after
  the upload); the codes keep their customer's ref.
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
from sqlalchemy import Table, Text, delete, exists, select, update
from sqlalchemy import cast as sql_cast
from sqlalchemy.ext.asyncio import AsyncSession

from promo.audit import audit_log
from promo.checkout import idempotency
from promo.checkout.models import CustomerOrders, CustomerUsage
from promo.codes import batch_customers
from promo.db.results import rows_changed
from promo.events.models import Event
from promo.jobs.models import Job
from promo.settings import Settings
from promo.webhooks.models import Attempt, Delivery

usage = cast(Table, CustomerUsage.__table__)
orders = cast(Table, CustomerOrders.__table__)
events = cast(Table, Event.__table__)
deliveries = cast(Table, Delivery.__table__)
attempts = cast(Table, Attempt.__table__)
jobs = cast(Table, Job.__table__)

PURGED_DETAILS: dict[str, Any] = {"purged": True}
# As both databases keep that JSON (PostgreSQL's json type has no equality).
PURGED_TEXT = '{"purged": true}'


class Retention(msgspec.Struct, frozen=True):
    answers_hours: int
    audit_details_days: int
    events_days: int = 30
    finished_jobs_days: int = 7

    @classmethod
    def of(cls, settings: Settings) -> Retention:
        return cls(
            settings.retain_answers_hours,
            settings.retain_audit_details_days,
            settings.retain_events_days,
            settings.retain_finished_jobs_days,
        )


class Purged(msgspec.Struct, frozen=True):
    answers: int
    audit_details: int
    empty_counters: int
    events: int = 0
    finished_jobs: int = 0
    customer_lists: int = 0


# Events deleted per statement (with their deliveries and attempts).
EVENTS_PER_ROUND = 5_000


async def _purge_events(session: AsyncSession, *, older_than: datetime) -> int:
    """Events older than the retention whose every delivery has ended (delivered
    or failed for good), with those deliveries and their attempts. An event the
    fan-out has not handed out yet, or with a delivery still pending, stays."""
    pending = exists().where(deliveries.c.event_id == events.c.id, deliveries.c.status == "pending")
    ended = (
        select(events.c.id)
        .where(events.c.created_at < older_than, events.c.dispatched_at.is_not(None), ~pending)
        .order_by(events.c.id)
        .limit(EVENTS_PER_ROUND)
    )
    purged = 0
    while ids := list(await session.scalars(ended)):
        await session.execute(delete(attempts).where(attempts.c.event_id.in_(ids)))
        await session.execute(delete(deliveries).where(deliveries.c.event_id.in_(ids)))
        purged += rows_changed(await session.execute(delete(events).where(events.c.id.in_(ids))))
    return purged


async def purge(session: AsyncSession, retention: Retention, *, now: datetime) -> Purged:
    """Apply ``retention`` as of ``now`` in the caller's transaction."""
    answers = await idempotency.purge(
        session, older_than=now - timedelta(hours=retention.answers_hours)
    )
    details = rows_changed(
        await session.execute(
            update(audit_log)
            .where(
                audit_log.c.at < now - timedelta(days=retention.audit_details_days),
                sql_cast(audit_log.c.details, Text) != PURGED_TEXT,
            )
            .values(details=PURGED_DETAILS)
        )
    )
    empty = rows_changed(await session.execute(delete(usage).where(usage.c.used == 0)))
    empty += rows_changed(await session.execute(delete(orders).where(orders.c.live == 0)))
    purged_events = await _purge_events(
        session, older_than=now - timedelta(days=retention.events_days)
    )
    # Done jobs (one per webhook delivery, batch, purge) say nothing once done;
    # failed ones stay for an operator to see and retry.
    cutoff = now - timedelta(days=retention.finished_jobs_days)
    finished = rows_changed(
        await session.execute(
            delete(jobs).where(jobs.c.status == "done", jobs.c.finished_at < cutoff)
        )
    )
    return Purged(
        answers=answers,
        audit_details=details,
        empty_counters=empty,
        events=purged_events,
        finished_jobs=finished,
        customer_lists=await batch_customers.purge(session, now=now),
    )
