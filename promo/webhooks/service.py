"""Subscriptions (create, read, change, rotate their secret), the delivery log,
and deliveries queued by the fan-out and by redelivery. Who may subscribe to
what, and act on which subscription, is promo.webhooks.access.

Every delivery is a row of ``webhook_deliveries`` and a ``webhook_delivery``
job (promo.webhooks.delivery), queued together in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from promo.auth.roles import Role
from promo.errors import Conflict, Invalid, NotFound
from promo.events.outbox import events
from promo.ids import Kind, decode, encode
from promo.jobs import queue
from promo.webhooks import access, signing, urls
from promo.webhooks.models import Attempt, Delivery, Subscription
from promo.webhooks.schemas import (
    AttemptRead,
    Redelivery,
    WebhookCreate,
    WebhookPatch,
    WebhookRead,
)

DELIVERY_KIND = "webhook_delivery"
# A delivery job fails only when promo itself does (the database away): the
# receiver's failures are the delivery's attempts, scheduled by the handler.
DELIVERY_MAX_ATTEMPTS = 10
# The most events one redelivery request may queue.
MAX_REDELIVERY = 10_000

subscriptions = cast(Table, Subscription.__table__)
deliveries = cast(Table, Delivery.__table__)
attempts = cast(Table, Attempt.__table__)


def webhook_read(sub: Subscription, now: datetime) -> WebhookRead:
    overlap = sub.previous_secret_until
    return WebhookRead(
        id=encode(Kind.WEBHOOK, sub.id),
        url=sub.url,
        events=list(sub.events),
        description=sub.description,
        status="active" if sub.active else "disabled",
        disabled_reason=sub.disabled_reason,
        disabled_at=sub.disabled_at,
        failing_since=sub.failing_since,
        previous_secret_expires_at=overlap if overlap is not None and overlap > now else None,
        created_at=sub.created_at,
        updated_at=sub.updated_at,
    )


def signing_secrets(sub: Subscription | Any, now: datetime) -> list[str]:
    """The secrets that sign now: the current one, and the previous one during
    its overlap."""
    found = [sub.secret]
    until = sub.previous_secret_until
    if sub.previous_secret is not None and until is not None and until > now:
        found.append(sub.previous_secret)
    return found


def _names(events_wanted: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(events_wanted))


async def create(
    session: AsyncSession, data: WebhookCreate, policy: urls.Policy, *, role: Role, now: datetime
) -> Subscription:
    access.check_events(role, data.events)
    sub = Subscription(
        url=urls.check_url(data.url, policy),
        events=_names(data.events),
        description=data.description,
        secret=signing.new_secret(),
        active=True,
        created_at=now,
        updated_at=now,
    )
    session.add(sub)
    await session.flush()
    return sub


async def get(session: AsyncSession, webhook_id: int | None) -> Subscription:
    sub = None if webhook_id is None else await session.get(Subscription, webhook_id)
    if sub is None:
        raise NotFound("webhook_not_found", "No such webhook subscription")
    return sub


async def list_subscriptions(
    session: AsyncSession, *, after_id: int | None, limit: int
) -> list[Subscription]:
    query = select(Subscription).order_by(Subscription.id).limit(limit)
    if after_id is not None:
        query = query.where(Subscription.id > after_id)
    return list(await session.scalars(query))


async def disable(session: AsyncSession, sub_id: int, reason: str, *, now: datetime) -> bool:
    """Disable an active subscription with ``reason``; its pending deliveries
    end, failed, and nothing more is sent. False when it was not active."""
    done = await session.scalar(
        update(subscriptions)
        .where(subscriptions.c.id == sub_id, subscriptions.c.active.is_(True))
        .values(active=False, disabled_reason=reason, disabled_at=now, updated_at=now)
        .returning(subscriptions.c.id)
    )
    if done is None:
        return False
    await session.execute(
        update(deliveries)
        .where(deliveries.c.subscription_id == sub_id, deliveries.c.status == "pending")
        .values(
            status="failed",
            next_attempt_at=None,
            finished_at=now,
            last_error=f"subscription disabled: {reason}",
        )
    )
    return True


async def patch(
    session: AsyncSession,
    sub: Subscription,
    data: WebhookPatch,
    policy: urls.Policy,
    *,
    role: Role,
    who: str,
    now: datetime,
) -> Subscription:
    access.check_subscription(role, sub.events)
    if isinstance(data.events, list):
        access.check_events(role, data.events)
    if isinstance(data.url, str):
        sub.url = urls.check_url(data.url, policy)
    if isinstance(data.events, list):
        sub.events = _names(data.events)
    if isinstance(data.description, str):
        sub.description = data.description
    sub.updated_at = now
    await session.flush()
    if data.active is False and sub.active:
        await disable(session, sub.id, f"disabled by {who}", now=now)
    elif data.active is True and not sub.active:
        sub.active = True
        sub.disabled_reason = sub.disabled_at = sub.failing_since = None
        await session.flush()
    await session.refresh(sub)
    return sub


async def rotate_secret(
    session: AsyncSession,
    sub: Subscription,
    *,
    role: Role,
    keep_previous: timedelta,
    now: datetime,
) -> str:
    """A new secret; the current one keeps signing for ``keep_previous`` beside it."""
    access.check_subscription(role, sub.events)
    secret = signing.new_secret()
    if keep_previous > timedelta(0):
        sub.previous_secret, sub.previous_secret_until = sub.secret, now + keep_previous
    else:
        sub.previous_secret = sub.previous_secret_until = None
    sub.secret = secret
    sub.updated_at = now
    await session.flush()
    return secret


async def queue_deliveries(
    session: AsyncSession, pairs: Sequence[tuple[int, int]], *, manual: bool, now: datetime
) -> int:
    """One delivery row and one job per (event id, subscription id); how many."""
    if not pairs:
        return 0
    rows = [
        {
            "event_id": event_id,
            "subscription_id": sub_id,
            "manual": manual,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for event_id, sub_id in pairs
    ]
    made = await session.scalars(
        insert(deliveries).returning(deliveries.c.id, sort_by_parameter_order=True), rows
    )
    await queue.enqueue_many(
        session,
        DELIVERY_KIND,
        [{"delivery_id": delivery_id} for delivery_id in made],
        now=now,
        max_attempts=DELIVERY_MAX_ATTEMPTS,
    )
    return len(rows)


async def redeliver(
    session: AsyncSession, sub: Subscription, data: Redelivery, *, role: Role, now: datetime
) -> int:
    """Queue one event again, or every wanted event of a period; how many."""
    access.check_subscription(role, sub.events)
    if not sub.active:
        raise Conflict("webhook_disabled", "This subscription is disabled: enable it (PATCH) first")
    by_range = data.from_ is not None or data.to is not None
    if (data.event_id is None) == (not by_range):
        raise Invalid.field("event_id", "give either event_id, or from and to")
    if data.event_id is not None:
        event_id = decode(Kind.EVENT, data.event_id)
        row = None
        if event_id is not None:
            row = (
                await session.execute(
                    select(events.c.id, events.c.type).where(events.c.id == event_id)
                )
            ).first()
        if row is None:
            raise NotFound("event_not_found", "No such event")
        if row.type not in sub.events:
            raise Conflict(
                "event_not_subscribed",
                f"This subscription does not want {row.type} events",
            )
        return await queue_deliveries(session, [(row.id, sub.id)], manual=True, now=now)
    if data.from_ is None:
        raise Invalid.field("from", "required with to")
    if data.to is None:
        raise Invalid.field("to", "required with from")
    if data.to <= data.from_:
        raise Invalid.field("to", "must be after from")
    wanted = (
        select(events.c.id)
        .where(
            events.c.created_at >= data.from_,
            events.c.created_at < data.to,
            events.c.type.in_(list(sub.events)),
        )
        .order_by(events.c.id)
    )
    count = await session.scalar(select(func.count()).select_from(wanted.subquery()))
    if (count or 0) > MAX_REDELIVERY:
        raise Invalid.field(
            "to",
            f"{count} events in that period; at most {MAX_REDELIVERY} per request",
            code="redelivery_too_large",
        )
    ids = list(await session.scalars(wanted))
    return await queue_deliveries(session, [(i, sub.id) for i in ids], manual=True, now=now)


def _attempt_read(row: Any) -> AttemptRead:
    return AttemptRead(
        id=encode(Kind.ATTEMPT, row.id),
        delivery_id=encode(Kind.DELIVERY, row.delivery_id),
        event_id=encode(Kind.EVENT, row.event_id),
        event_type=row.event_type,
        attempt=row.number,
        started_at=row.started_at,
        latency_ms=row.latency_ms,
        status_code=row.status_code,
        response=row.response_head,
        error=row.error,
        outcome=row.outcome,
        delivery_status=row.delivery_status,
        next_attempt_at=row.next_attempt_at,
        manual=row.manual,
    )


async def list_attempts(
    session: AsyncSession,
    sub_id: int,
    *,
    event_id: int | None,
    after_id: int | None,
    limit: int,
) -> list[tuple[int, AttemptRead]]:
    """The subscription's attempts, oldest first."""
    query = (
        select(
            attempts,
            events.c.type.label("event_type"),
            deliveries.c.status.label("delivery_status"),
            deliveries.c.next_attempt_at,
            deliveries.c.manual,
        )
        .join(deliveries, deliveries.c.id == attempts.c.delivery_id)
        .join(events, events.c.id == attempts.c.event_id)
        .where(attempts.c.subscription_id == sub_id)
        .order_by(attempts.c.id)
        .limit(limit)
    )
    if event_id is not None:
        query = query.where(attempts.c.event_id == event_id)
    if after_id is not None:
        query = query.where(attempts.c.id > after_id)
    return [(row.id, _attempt_read(row)) for row in await session.execute(query)]
