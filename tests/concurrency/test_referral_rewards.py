"""Referral rewards are issued once per friend's order whatever races them: eight
settlers at once (each its own connection and transaction, as eight workers
would be) and, on PostgreSQL, a settler killed before it commits, whose
connection dies with its half-done work."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import Counter
from datetime import timedelta

import httpx
from sqlalchemy import func, select, text

from promo.auth.roles import Role
from promo.clock import utc_now
from promo.codes.models import Code
from promo.db.engine import create_sessionmaker
from promo.referrals import rewards
from promo.referrals.models import ReferralReward, Referrer
from tests.concurrency.conftest import Live
from tests.concurrency.test_redemption_limits import new_campaign, unique

FRIENDS = 30
MAX_REWARDS = 20
SETTLERS = 8


async def program_with_friends(http: httpx.AsyncClient, live: Live) -> tuple[str, int]:
    """A referral program (no holding period, at most MAX_REWARDS rewards), a
    referrer and FRIENDS friends' first orders: (the referrer's code, program id)."""
    checkout = live.headers[Role.CHECKOUT]
    reward = await new_campaign(
        http,
        live,
        code_prefix=unique("T")[:8],
        discount={"type": "fixed_amount", "amount_off": 500},
    )
    program = await new_campaign(
        http,
        live,
        kind="referral",
        code_prefix=unique("F")[:8],
        rules={"exclude_skus": []},
        limits={"max_redemptions_per_customer": None},
        referral={
            "reward_campaign_id": reward["id"],
            "max_rewards_per_referrer": MAX_REWARDS,
            "holding_days": 0,
        },
    )
    made = await http.post(
        "/v1/referrals",
        json={"campaign_id": program["id"], "customer_id": unique("ref")},
        headers=checkout,
    )
    assert made.status_code == 201, made.text
    code = made.json()["code"]
    for n in range(FRIENDS):
        sold = await http.post(
            "/v1/redemptions",
            json={
                "code": code,
                "order_id": unique("o"),
                "customer_id": unique("friend"),
                "first_order": True,
                "cart": {
                    "currency": "EUR",
                    "items": [{"sku": "A", "quantity": 1, "unit_price": 5000}],
                },
            },
            headers={**checkout, "Idempotency-Key": f"k-{uuid.uuid4()}"},
        )
        assert sold.status_code == 201, (n, sold.text)
    async with live.engine.connect() as connection:
        program_id = await connection.scalar(select(Code.campaign_id).where(Code.code == code))
    assert program_id is not None
    return code, int(program_id)


async def rewarded(live: Live, program_id: int) -> tuple[Counter[str], int]:
    async with live.engine.connect() as connection:
        kinds = Counter(
            kind
            for (kind,) in await connection.execute(
                select(ReferralReward.kind)
                .join(Referrer, Referrer.id == ReferralReward.referrer_id)
                .where(Referrer.campaign_id == program_id)
            )
        )
        counted = await connection.scalar(
            select(func.sum(Referrer.rewards)).where(Referrer.campaign_id == program_id)
        )
    return kinds, int(counted or 0)


async def test_concurrent_settlers_reward_each_friend_once(
    http: httpx.AsyncClient, live: Live
) -> None:
    _, program_id = await program_with_friends(http, live)
    sessions = create_sessionmaker(live.engine)
    later = utc_now() + timedelta(seconds=1)

    async def settle_once() -> int:
        for _ in range(20):  # SQLite: a writer that found the database locked tries again
            try:
                async with sessions() as session, session.begin():
                    return await rewards.settle_due(session, now=later)
            except Exception as exc:
                if "locked" not in str(exc):
                    raise
                await asyncio.sleep(0.05)
        raise AssertionError("the database stayed locked")

    written = await asyncio.gather(*(settle_once() for _ in range(SETTLERS)))
    assert sum(written) == FRIENDS
    kinds, counted = await rewarded(live, program_id)
    assert kinds == {"code": MAX_REWARDS, "none": FRIENDS - MAX_REWARDS}
    assert counted == MAX_REWARDS


async def test_a_settler_killed_before_it_commits_leaves_nothing(
    http: httpx.AsyncClient, live: Live
) -> None:
    _, program_id = await program_with_friends(http, live)
    sessions = create_sessionmaker(live.engine)
    later = utc_now() + timedelta(seconds=1)
    postgres = live.settings.database_url.startswith("postgresql")
    async with sessions() as session:
        await session.begin()
        assert await rewards.settle_due(session, now=later) == FRIENDS
        if postgres:  # its backend killed, as when the worker's host dies
            pid = await session.scalar(text("SELECT pg_backend_pid()"))
            async with live.engine.connect() as killer:
                await killer.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
                await killer.commit()
            with contextlib.suppress(Exception):  # its connection is gone: its work too
                await session.commit()
        else:  # SQLite: a writer that dies leaves its journal, rolled back
            connection = await session.connection()
            raw = await connection.get_raw_connection()
            await raw.driver_connection.close()  # type: ignore[union-attr]
            session.expunge_all()
    assert await rewarded(live, program_id) == (Counter(), 0)
    async with sessions() as session, session.begin():
        assert await rewards.settle_due(session, now=later) == FRIENDS
    async with sessions() as session, session.begin():
        assert await rewards.settle_due(session, now=later) == 0
    kinds, counted = await rewarded(live, program_id)
    assert kinds == {"code": MAX_REWARDS, "none": FRIENDS - MAX_REWARDS}
    assert counted == MAX_REWARDS
