"""Referral rewards: a referrer is rewarded once per friend whose first order stood.

A recurring job (``referral_rewards``, every minute) looks, program by
program, for redemptions of referral codes made at least the program's
``holding_days`` ago, not rolled back and not yet settled, and settles each:

1. ``referral_rewards`` gets the redemption's row first (``INSERT ... ON
   CONFLICT DO NOTHING``): its primary key is the redemption, so of two
   settlers (a retry, a worker that lost its lease, a second worker) one
   writes it and the other finds nothing to do. Everything a settlement
   writes is in that row's transaction: a worker killed half-way leaves
   nothing, and the next run settles again from scratch.
2. The referrer's row is locked and its ``rewards`` counted against the
   program's ``max_rewards_per_referrer``: past it the row says ``none``.
3. Otherwise the reward: a single-use code of the reward campaign, bound to
   the referrer (promo.codes: anyone else is refused ``customer_not_eligible``)
   and expiring ``reward_valid_days`` after it is issued; or a ``credit`` in
   the campaign's currency for the shop to apply. Event ``referral.rewarded``
   tells the shop either way.

A refund after the reward (the friend's order fully rolled back) is recorded
(``revoked_at``) and disables the reward code if it is still unused, by the
same job, within a minute; the event ``referral.revoked`` tells the shop.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, cast

import msgspec
from sqlalchemy import Table, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from promo.campaigns.models import Campaign
from promo.checkout.models import Redemption
from promo.codes.canonical import canonical
from promo.codes.dedicated import ALPHABET
from promo.codes.models import Code
from promo.codes.patterns import random_chars
from promo.codes.service import insert_code
from promo.db import dialect
from promo.db.engine import create_sessionmaker
from promo.events import outbox
from promo.events.outbox import EventType
from promo.ids import Kind, encode
from promo.jobs.worker import JobContext, Stopped
from promo.referrals.models import ReferralReward, Referrer

KIND = "referral_rewards"
EVERY = timedelta(minutes=1)
PAGE = 200
CODE_LENGTH = 10
MAX_ATTEMPTS = 16

rewards = cast(Table, ReferralReward.__table__)


class RewardEvent(msgspec.Struct, kw_only=True):
    """What ``referral.rewarded`` and ``referral.revoked`` carry (no customer data
    but the referrer's ref)."""

    redemption_id: str
    campaign_id: str
    referrer_ref: str
    kind: str
    code: str | None
    credit: int | None
    currency: str
    expires_at: datetime | None
    revoked: bool


async def _reward_code(
    session: AsyncSession, reward_campaign: Campaign, referrer: Referrer, now: datetime, days: int
) -> Code:
    prefix = f"{reward_campaign.code_prefix.upper()}-" if reward_campaign.code_prefix else ""
    for _ in range(MAX_ATTEMPTS):
        text = prefix + random_chars(ALPHABET, CODE_LENGTH).decode()
        code = await insert_code(
            session,
            campaign_id=reward_campaign.id,
            text=text,
            form=canonical(text),
            kind="vanity",
            max_redemptions=1,
            affiliate_id=None,
            now=now,
            expires_at=now + timedelta(days=days),
            customer_ref=referrer.customer_ref,
        )
        if code is not None:
            return code
    raise RuntimeError("no free reward code after 16 draws")  # 10 random characters: never


async def settle(
    session: AsyncSession, program: Campaign, red: Redemption, *, now: datetime
) -> ReferralReward | None:
    """Settle one friend's redemption: its reward row, or None (settled already)."""
    referrer = (
        await session.scalars(
            select(Referrer).where(Referrer.code_id == red.code_id).with_for_update()
        )
    ).first()
    if referrer is None:
        return None
    claimed = await session.scalar(
        dialect.insert(session, ReferralReward)
        .values(redemption_id=red.id, referrer_id=referrer.id, kind="none", created_at=now)
        .on_conflict_do_nothing()
        .returning(ReferralReward.redemption_id)
    )
    if claimed is None:
        return None
    terms: dict[str, Any] = program.referral or {}
    limit = terms.get("max_rewards_per_referrer")
    reward = await session.get(ReferralReward, red.id)
    assert reward is not None  # noqa: S101 (just written)
    if limit is not None and referrer.rewards >= limit:
        return reward
    referrer.rewards += 1
    expires_at = None
    if terms.get("reward_campaign_id") is not None:
        reward_campaign = await session.get(Campaign, terms["reward_campaign_id"])
        assert reward_campaign is not None  # noqa: S101 (checked when the terms were set)
        days = int(terms.get("reward_valid_days", 90))
        code = await _reward_code(session, reward_campaign, referrer, now, days)
        reward.kind, reward.code_id, expires_at = "code", code.id, code.expires_at
        text: str | None = code.code
    else:
        reward.kind, reward.credit, text = "credit", int(terms["reward_credit"]), None
    await session.flush()
    await outbox.emit(
        session,
        EventType.REFERRAL_REWARDED,
        _event(program, referrer, reward, text, expires_at),
        now=now,
        key=f"referral.rewarded:{red.id}",
    )
    return reward


def _event(
    program: Campaign,
    referrer: Referrer,
    reward: ReferralReward,
    code: str | None,
    expires_at: datetime | None,
) -> RewardEvent:
    return RewardEvent(
        redemption_id=encode(Kind.REDEMPTION, reward.redemption_id),
        campaign_id=encode(Kind.CAMPAIGN, program.id),
        referrer_ref=referrer.customer_ref,
        kind=reward.kind,
        code=code,
        credit=reward.credit,
        currency=program.currency,
        expires_at=expires_at,
        revoked=reward.revoked_at is not None,
    )


async def _due(session: AsyncSession, program: Campaign, now: datetime) -> list[Redemption]:
    holding = timedelta(days=int((program.referral or {}).get("holding_days", 30)))
    query = (
        select(Redemption)
        .join(Code, Code.id == Redemption.code_id)
        .outerjoin(ReferralReward, ReferralReward.redemption_id == Redemption.id)
        .where(
            Redemption.campaign_id == program.id,
            Code.kind == "referral",
            Redemption.rolled_back_at.is_(None),
            Redemption.created_at <= now - holding,
            ReferralReward.redemption_id.is_(None),
        )
        .order_by(Redemption.id)
        .limit(PAGE)
    )
    return list((await session.scalars(query)).all())


async def revoke_refunded(session: AsyncSession, *, now: datetime) -> int:
    """Record the rewards whose friend's order was fully rolled back after them,
    and disable their codes where unused; how many."""
    query = (
        select(ReferralReward, Redemption.campaign_id)
        .join(Redemption, Redemption.id == ReferralReward.redemption_id)
        .where(ReferralReward.revoked_at.is_(None), Redemption.rolled_back_at.is_not(None))
        .limit(PAGE)
    )
    revoked = 0
    for reward, campaign_id in (await session.execute(query)).all():
        marked = await session.execute(
            update(rewards)
            .where(rewards.c.redemption_id == reward.redemption_id, rewards.c.revoked_at.is_(None))
            .values(revoked_at=now)
            .returning(rewards.c.redemption_id)
        )
        if marked.first() is None:
            continue
        code = await session.get(Code, reward.code_id) if reward.code_id else None
        if code is not None and code.used == 0:
            code.active = False
        await session.refresh(reward)
        program = await session.get(Campaign, campaign_id)
        referrer = await session.get(Referrer, reward.referrer_id)
        assert program is not None  # noqa: S101 (campaigns are never deleted)
        assert referrer is not None  # noqa: S101
        await outbox.emit(
            session,
            EventType.REFERRAL_REVOKED,
            _event(program, referrer, reward, code.code if code else None, None),
            now=now,
            key=f"referral.revoked:{reward.redemption_id}",
        )
        revoked += 1
    return revoked


async def settle_due(session: AsyncSession, *, now: datetime) -> int:
    """One look: every referral program's due redemptions settled (a page each),
    refunded rewards revoked; how many rewards were written."""
    programs = (
        await session.scalars(
            select(Campaign).where(Campaign.kind == "referral", Campaign.status != "draft")
        )
    ).all()
    settled = 0
    for program in programs:
        for red in await _due(session, program, now):
            settled += await settle(session, program, red, now=now) is not None
    await revoke_refunded(session, now=now)
    return settled


async def run(ctx: JobContext) -> None:
    """The job: one look, committed as a whole, then again in a minute."""
    now = ctx.clock()
    async with create_sessionmaker(ctx.bind)() as session, session.begin():
        await settle_due(session, now=now)
        if not await ctx.again_in(session, now + EVERY):
            raise Stopped  # the lease was lost: another worker settles instead
