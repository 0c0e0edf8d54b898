"""Vanity codes: create, find by any spelling, list, enable/disable.

Uniqueness is the database's job: every single-code insert (vanity here,
dedicated and alias codes in ``dedicated.py``) goes through ``insert_code``,
an ``INSERT .. ON CONFLICT DO NOTHING RETURNING`` on the unique indexes, so
two concurrent requests for the same code yield one code and one refusal.
"""

from __future__ import annotations

from datetime import datetime

from msgspec import UNSET
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from promo.affiliates.models import Affiliate
from promo.campaigns.models import Campaign
from promo.campaigns.service import ReleaseCodes
from promo.codes.canonical import InvalidCode, canonical
from promo.codes.models import Code
from promo.codes.schemas import CodePatch
from promo.codes.validity import check_window
from promo.db import dialect
from promo.errors import Conflict, Invalid, NotFound


def channel_label(channel: str | None) -> str | None:
    """A channel as stored: lower-cased (the schema admits ASCII tokens only)."""
    return channel.lower() if channel is not None else None


def canonical_or_invalid(text: str, field: str = "code") -> str:
    try:
        return canonical(text)
    except InvalidCode as exc:
        raise Invalid.field(field, str(exc), "invalid_code") from None


async def insert_code(
    session: AsyncSession,
    *,
    campaign_id: int,
    text: str,
    form: str,
    kind: str,
    max_redemptions: int | None,
    affiliate_id: int | None,
    now: datetime,
    channel: str | None = None,
    starts_at: datetime | None = None,
    expires_at: datetime | None = None,
    customer_ref: str | None = None,
) -> Code | None:
    """Insert one code of ``kind`` (one of ``CODE_KINDS``); None when a unique index refuses it.

    The conflict clause names no target, so every unique index counts: a live
    code with the same canonical form, and for dedicated codes the one per
    affiliate and campaign. Which one refused is for the caller to find out.
    """
    statement = (
        dialect.insert(session, Code)
        .values(
            campaign_id=campaign_id,
            code=text.strip(),
            canonical=form,
            kind=kind,
            max_redemptions=max_redemptions,
            used=0,
            active=True,
            live=True,
            affiliate_id=affiliate_id,
            channel=channel_label(channel),
            created_at=now,
            starts_at=starts_at,
            expires_at=expires_at,
            customer_ref=customer_ref,
        )
        .on_conflict_do_nothing()
        .returning(Code)
    )
    code: Code | None = await session.scalar(statement)
    return code


async def create_code(
    session: AsyncSession,
    campaign: Campaign,
    *,
    text: str,
    max_redemptions: int | None,
    affiliate_id: int | None,
    now: datetime,
    channel: str | None = None,
    starts_at: datetime | None = None,
    expires_at: datetime | None = None,
    customer_ref: str | None = None,
) -> Code:
    """A vanity code typed by a marketer (with its own window, bound to one
    customer's ref or to none); 409 ``code_taken`` when a live code reads the same."""
    form = canonical_or_invalid(text)
    check_window(starts_at, expires_at)
    if campaign.status == "archived":
        raise Conflict("campaign_archived", "An archived campaign gets no new codes")
    if affiliate_id is not None and await session.get(Affiliate, affiliate_id) is None:
        raise NotFound("affiliate_not_found", "No such affiliate")
    code = await insert_code(
        session,
        campaign_id=campaign.id,
        text=text,
        form=form,
        kind="vanity",
        max_redemptions=max_redemptions,
        affiliate_id=affiliate_id,
        now=now,
        channel=channel,
        starts_at=starts_at,
        expires_at=expires_at,
        customer_ref=customer_ref,
    )
    if code is None:
        raise Conflict(
            "code_taken",
            f"{text.strip()!r} is taken: a live code reads the same ({form})",
            extra={"canonical": form},
        )
    return code


async def release_codes(session: AsyncSession, campaign_id: int) -> None:
    """Archiving frees the campaign's canonical forms for reuse (SUMMER20 next year);
    the rows stay, as history. Handed to ``promo.campaigns.service.patch_campaign``.

    ``FOR UPDATE`` first: it waits for code inserts in flight (they hold the
    row ``FOR KEY SHARE``: the foreign key, a batch round), so the UPDATE
    below sees and releases their codes too; redemptions never take it.
    """
    await session.execute(select(Campaign.id).where(Campaign.id == campaign_id).with_for_update())
    await session.execute(
        update(Code).where(Code.campaign_id == campaign_id, Code.live).values(live=False)
    )


def provide_release_codes() -> ReleaseCodes:
    """The ``release_codes`` dependency of the campaigns' PATCH route."""
    return release_codes


async def find_code(session: AsyncSession, text: str) -> Code:
    """The live code that ``text`` spells, in any case or separator style."""
    try:
        form = canonical(text)
    except InvalidCode:
        form = None
    code = (
        await session.scalar(select(Code).where(Code.canonical == form, Code.live))
        if form
        else None
    )
    if code is None:
        raise NotFound("code_not_found", "No such code")
    return code


async def list_codes(
    session: AsyncSession,
    campaign_id: int,
    *,
    affiliate_id: int | None,
    after_id: int | None,
    limit: int,
) -> list[Code]:
    query = select(Code).where(Code.campaign_id == campaign_id).order_by(Code.id).limit(limit)
    if affiliate_id is not None:
        query = query.where(Code.affiliate_id == affiliate_id)
    if after_id is not None:
        query = query.where(Code.id > after_id)
    return list((await session.scalars(query)).all())


async def patch_code(session: AsyncSession, code: Code, patch: CodePatch) -> Code:
    if patch.active is not UNSET:
        code.active = patch.active
    if patch.max_redemptions is not UNSET:
        code.max_redemptions = patch.max_redemptions
    if patch.channel is not UNSET:
        code.channel = channel_label(patch.channel)
    if patch.starts_at is not UNSET:
        code.starts_at = patch.starts_at
    if patch.expires_at is not UNSET:
        code.expires_at = patch.expires_at
    check_window(code.starts_at, code.expires_at)
    await session.flush()
    return code


async def find_own_code(session: AsyncSession, text: str, affiliate_id: int) -> Code:
    """The live code ``text`` spells, if it is the affiliate's; else 404, as for
    a code that does not exist (an affiliate learns nothing of others' codes)."""
    code = await find_code(session, text)
    if code.affiliate_id != affiliate_id:
        raise NotFound("code_not_found", "No such code")
    return code
