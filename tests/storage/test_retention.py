"""The retention purge on both databases (the CLI: tests/cli/test_purge.py)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from promo.audit import audit_log
from promo.events.models import Event
from promo.jobs.models import Job
from promo.retention import PURGED_DETAILS, Retention, purge
from promo.webhooks.models import Attempt, Delivery, Subscription
from tests.support.clock import FrozenClock


async def test_audit_details_are_cleared_once_and_the_entries_kept(
    db: AsyncSession, clock: FrozenClock
) -> None:
    now = clock()
    for age in (400, 10):
        await db.execute(
            insert(audit_log).values(
                at=now - timedelta(days=age),
                role="admin",
                actor="api",
                action="campaign.create",
                target="cmp_x",
                details={"rules": {"customer_refs": ["1:" + "a" * 43]}},
            )
        )
    policy = Retention(answers_hours=24, audit_details_days=365)
    first = await purge(db, policy, now=now)
    assert first.audit_details == 1
    rows = (
        await db.execute(select(audit_log.c.action, audit_log.c.details).order_by(audit_log.c.id))
    ).all()
    assert [details for _, details in rows] == [
        PURGED_DETAILS,
        {"rules": {"customer_refs": ["1:" + "a" * 43]}},
    ]
    assert {action for action, _ in rows} == {"campaign.create"}
    assert (await purge(db, policy, now=now)).audit_details == 0


async def test_ended_events_go_with_their_deliveries_and_pending_ones_stay(
    db: AsyncSession, clock: FrozenClock
) -> None:
    now = clock()
    old = now - timedelta(days=40)
    subscription = Subscription(
        url="https://hooks.example.test/promo",
        events=["redemption.created"],
        secret="whsec_" + "a" * 32,
        created_at=old,
        updated_at=old,
    )
    db.add(subscription)
    await db.flush()
    kept: dict[str, int] = {}
    for name, age, status in (
        ("delivered_old", 40, "delivered"),
        ("failed_old", 40, "failed"),
        ("pending_old", 40, "pending"),
        ("delivered_young", 10, "delivered"),
    ):
        event = Event(
            type="redemption.created",
            payload={"id": name},
            created_at=now - timedelta(days=age),
            dispatched_at=now - timedelta(days=age),
        )
        db.add(event)
        await db.flush()
        delivery = Delivery(
            subscription_id=subscription.id, event_id=event.id, status=status, created_at=old
        )
        db.add(delivery)
        await db.flush()
        db.add(
            Attempt(
                delivery_id=delivery.id,
                subscription_id=subscription.id,
                event_id=event.id,
                number=1,
                started_at=old,
                latency_ms=5,
                status_code=200,
                outcome="delivered",
            )
        )
        kept[name] = event.id
    undispatched = Event(type="redemption.created", payload={}, created_at=old)
    db.add(undispatched)
    await db.flush()
    purged = await purge(db, Retention(answers_hours=24, audit_details_days=365), now=now)
    assert purged.events == 2
    left = set(await db.scalars(select(Event.id)))
    assert left >= {kept["pending_old"], kept["delivered_young"], undispatched.id}
    assert not left & {kept["delivered_old"], kept["failed_old"]}
    assert set(await db.scalars(select(Attempt.event_id))) == {
        kept["pending_old"],
        kept["delivered_young"],
    }


async def test_done_jobs_go_after_their_retention_and_failed_ones_stay(
    db: AsyncSession, clock: FrozenClock
) -> None:
    now = clock()
    for status, age in (("done", 8), ("done", 2), ("failed", 30)):
        db.add(
            Job(
                kind="retention-test",
                payload={},
                status=status,
                run_at=now,
                attempts=1,
                max_attempts=1,
                created_at=now - timedelta(days=age),
                updated_at=now,
                finished_at=now - timedelta(days=age),
            )
        )
    await db.flush()
    purged = await purge(db, Retention(answers_hours=24, audit_details_days=365), now=now)
    assert purged.finished_jobs == 1
    left = (
        await db.execute(select(Job.status, Job.finished_at).where(Job.kind == "retention-test"))
    ).all()
    assert sorted(status for status, _ in left) == ["done", "failed"]
