"""The retention purge on both databases (the CLI: tests/cli/test_purge.py)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from promo.audit import audit_log
from promo.retention import PURGED_DETAILS, Retention, purge
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
