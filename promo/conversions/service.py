"""Crediting conversions and rejecting them; each one a ledger entry.

A conversion through a code is priced by the terms that would price a sale
of that code (promo.checkout.offers reads them, promo.plans.pricing
chooses: the affiliate's plan or the campaign's); one credited to an
affiliate directly, by the affiliate's own plan. The fee is the plan's
``action_fees`` entry for the kind; a plan with none for it refuses the
conversion rather than credit nothing silently. The commission is held for
the affiliate's holding period, as a sale's is.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import cast

import msgspec
from sqlalchemy import Table, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from promo.affiliates.models import Affiliate
from promo.checkout.offers import load_offer
from promo.codes.service import canonical_or_invalid
from promo.conversions.models import UNIQUE, Conversion
from promo.conversions.schemas import ConversionCreate
from promo.db import dialect
from promo.db.autocommit import Autocommit
from promo.db.integrity import violated_unique_index
from promo.errors import Conflict, Invalid, NotFound
from promo.identity import Identity
from promo.ids import Kind, decode
from promo.ledger import entries as ledger
from promo.plans.models import CommissionPlan
from promo.plans.pricing import Plan, fee_for
from promo.plans.service import pricing_plan


class Credit(msgspec.Struct, frozen=True, kw_only=True):
    """Who a conversion is credited to, and on which terms."""

    affiliate_id: int
    plan: Plan
    currency: str
    holding_days: int
    code_id: int | None = None
    code: str | None = None
    campaign_id: int | None = None


async def _through_code(reads: Autocommit, text: str, now: datetime) -> Credit:
    offer, _ = await load_offer(reads, canonical_or_invalid(text), Identity(), None, now=now)
    if offer is None or offer.code.affiliate_id is None:
        raise Invalid.field("code", "no live code of an affiliate is spelled so")
    if not offer.code.active or offer.code.affiliate_active is False:
        raise Conflict("code_disabled", "This code or its affiliate is disabled")
    return Credit(
        affiliate_id=offer.code.affiliate_id,
        plan=offer.plan,
        currency=offer.campaign.currency,
        holding_days=offer.holding_days,
        code_id=offer.code.id,
        code=offer.code.display,
        campaign_id=offer.campaign.id,
    )


async def _to_affiliate(session: AsyncSession, public_id: str) -> Credit:
    key = decode(Kind.AFFILIATE, public_id)
    affiliate = await session.get(Affiliate, key) if key is not None else None
    if affiliate is None:
        raise Invalid.field("affiliate_id", "no such affiliate")
    if not affiliate.active:
        raise Conflict("affiliate_inactive", "This affiliate is deactivated")
    plan_row = (
        await session.get(CommissionPlan, affiliate.commission_plan_id)
        if affiliate.commission_plan_id is not None
        else None
    )
    if plan_row is None:
        raise Conflict(
            "conversion_not_priced",
            "This affiliate has no commission plan of its own: credit it through a code",
        )
    return Credit(
        affiliate_id=affiliate.id,
        plan=pricing_plan(plan_row.id, plan_row.revision, plan_row.timezone, plan_row.terms),
        currency=plan_row.currency,
        holding_days=affiliate.holding_days,
    )


async def credited_to(
    session: AsyncSession, reads: Autocommit, data: ConversionCreate, *, now: datetime
) -> Credit:
    """Who ``data`` credits, on which terms. Read before the conversion's write
    transaction begins: the code's terms come from a connection of their own,
    which a writer holding SQLite's lock must never wait for."""
    if (data.code is None) == (data.affiliate_id is None):
        raise Invalid.field("code", "give either code or affiliate_id")
    if data.code is not None:
        return await _through_code(reads, data.code, now)
    return await _to_affiliate(session, data.affiliate_id or "")


async def credit(
    session: AsyncSession, data: ConversionCreate, to: Credit, *, now: datetime
) -> Conversion:
    """Record and price one conversion, with its ledger entry; 409
    ``conversion_duplicate`` when its kind and external id were reported before."""
    fee = fee_for(to.plan, data.kind)
    if to.plan.plan_id is None or to.plan.revision is None or fee is None:
        raise Conflict(
            "conversion_not_priced",
            f"The commission plan that applies pays no fee for {data.kind!r} conversions",
            extra={"kind": data.kind},
        )
    conversion = Conversion(
        kind=data.kind,
        external_id=data.external_id,
        affiliate_id=to.affiliate_id,
        code_id=to.code_id,
        campaign_id=to.campaign_id,
        order_id=data.order_id,
        value=data.value,
        currency=to.currency,
        commission=fee,
        plan_id=to.plan.plan_id,
        plan_revision=to.plan.revision,
        available_at=now + timedelta(days=to.holding_days),
        created_at=now,
    )
    session.add(conversion)
    try:
        await session.flush()
    except IntegrityError as exc:
        if violated_unique_index(exc, cast(Table, Conversion.__table__)) == UNIQUE:
            raise Conflict(
                "conversion_duplicate",
                f"A {data.kind!r} conversion with this external_id was reported already",
                extra={"kind": data.kind, "external_id": data.external_id},
            ) from None
        raise
    await ledger.append(
        session,
        kind="conversion",
        now=now,
        currency=to.currency,
        holding_days=to.holding_days,
        conversion_id=conversion.id,
        order_id=data.order_id,
        code=to.code,
        campaign_id=to.campaign_id,
        affiliate_id=to.affiliate_id,
        commission=fee,
        note=f"{data.kind} {data.external_id}"[:500],
        plan_id=to.plan.plan_id,
        plan_revision=to.plan.revision,
    )
    return conversion


async def get_conversion(session: AsyncSession, conversion_id: int | None) -> Conversion:
    found = await session.get(Conversion, conversion_id) if conversion_id is not None else None
    if found is None:
        raise NotFound("conversion_not_found", "No such conversion")
    return found


async def reject(
    session: AsyncSession, conversion_id: int | None, *, reason: str | None, now: datetime
) -> Conversion:
    """Reject a conversion (a fake lead): a reversal entry takes back its whole
    commission, paid out or not; 409 ``already_rejected`` the second time."""
    found = await get_conversion(session, conversion_id)
    query = select(Conversion).where(Conversion.id == found.id)
    query = query.execution_options(populate_existing=True)
    if dialect.is_postgres(session):
        query = query.with_for_update()
    conversion = (await session.scalars(query)).one()
    if conversion.rejected_at is not None:
        raise Conflict("already_rejected", "This conversion is already rejected")
    conversion.rejected_at = now
    conversion.reject_reason = reason
    await session.flush()
    await ledger.append(
        session,
        kind="reversal",
        now=now,
        currency=conversion.currency,
        conversion_id=conversion.id,
        order_id=conversion.order_id,
        campaign_id=conversion.campaign_id,
        affiliate_id=conversion.affiliate_id,
        commission=-conversion.commission,
        note=(reason or f"{conversion.kind} {conversion.external_id} rejected")[:500],
        plan_id=conversion.plan_id,
        plan_revision=conversion.plan_revision,
    )
    return conversion


async def list_conversions(
    session: AsyncSession,
    *,
    affiliate_id: int | None,
    kind: str | None,
    external_id: str | None,
    after_id: int | None,
    limit: int,
) -> list[Conversion]:
    query = select(Conversion).order_by(Conversion.id).limit(limit)
    if affiliate_id is not None:
        query = query.where(Conversion.affiliate_id == affiliate_id)
    if kind is not None:
        query = query.where(Conversion.kind == kind)
    if external_id is not None:
        query = query.where(Conversion.external_id == external_id)
    if after_id is not None:
        query = query.where(Conversion.id > after_id)
    return list((await session.scalars(query)).all())
