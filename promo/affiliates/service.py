"""Affiliate accounts: create (optionally with their API key), read, list, update.

Deactivating an affiliate needs nothing more than the flag: validation joins
the code's affiliate and reports ``code_disabled``, and authentication refuses
keys bound to an inactive affiliate. The canonical e-mail is kept beside the
typed one so that self-referral is one equality at validation time; it is
unique (``uq_affiliates_email_key``), so a second affiliate with the same
address, however spelled, is 409 ``affiliate_email_taken``, even when two
creations race: the index decides, and its name classifies the error.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from msgspec import UNSET
from sqlalchemy import Table, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from promo.affiliates.models import EMAIL_UNIQUE, Affiliate
from promo.affiliates.schemas import AffiliateCreate, AffiliatePatch
from promo.auth.roles import Principal
from promo.campaigns.schemas import Commission
from promo.campaigns.service import check_commission, percent
from promo.db.integrity import violated_unique_index
from promo.errors import Conflict, FieldError, Invalid, NotFound
from promo.identity import NotAnEmail, canonical_email
from promo.money import is_currency
from promo.plans import service as plans


def _check_commission(commission: Commission | None) -> None:
    if commission is not None:
        check_commission(commission)


def _check_thresholds(thresholds: Mapping[str, int]) -> None:
    for currency in thresholds:
        if not is_currency(currency):
            raise Invalid.field(
                f"payout_thresholds.{currency[:16]}",
                f"unknown ISO 4217 currency {currency[:16]!r} (upper-case code such as EUR)",
            )


async def _apply_commission(
    session: AsyncSession, affiliate: Affiliate, commission: Commission | None
) -> None:
    """Its own terms: a plan (which prices its sales on campaigns in the plan's
    currency) or a percent/fixed override; None: the campaigns' terms apply."""
    affiliate.commission_plan_id = await plans.attached_plan(
        session, "commission.plan_id", commission.plan_id if commission else None, None
    )
    affiliate.commission_percent = percent(commission.percent) if commission else None
    affiliate.commission_fixed = commission.fixed if commission else None


def _apply_email(affiliate: Affiliate, email: str) -> None:
    affiliate.email = email.strip()
    try:
        affiliate.email_key = canonical_email(email)
    except NotAnEmail as exc:
        raise Invalid.field("email", f"not an e-mail address: {exc}") from None


async def _flush(session: AsyncSession, affiliate: Affiliate) -> None:
    """Write the affiliate; 409 ``affiliate_email_taken`` if another one has its address."""
    key = affiliate.email_key  # a failed flush expires the row
    try:
        await session.flush()
    except IntegrityError as exc:
        table = Affiliate.__table__
        if isinstance(table, Table) and violated_unique_index(exc, table) == EMAIL_UNIQUE:
            message = f"another affiliate already has this e-mail ({key})"
            raise Conflict(
                "affiliate_email_taken",
                f"email: {message}",
                errors=[FieldError("email", message)],
            ) from None
        raise


def commission_of(affiliate: Affiliate) -> Commission | None:
    """The affiliate's own plan, or None when the campaign's default applies."""
    if (
        affiliate.commission_percent is None
        and affiliate.commission_fixed is None
        and affiliate.commission_plan_id is None
    ):
        return None
    return Commission(
        percent=percent(affiliate.commission_percent),
        fixed=affiliate.commission_fixed,
        plan_id=plans.public_plan_id(affiliate.commission_plan_id),
    )


async def create_affiliate(
    session: AsyncSession, data: AffiliateCreate, *, now: datetime
) -> Affiliate:
    """Store a new affiliate (its API key, when asked, is made by the route: keys
    sit above the affiliates they may be bound to)."""
    _check_commission(data.commission)
    _check_thresholds(data.payout_thresholds)
    affiliate = Affiliate(
        name=data.name,
        payout_thresholds=dict(data.payout_thresholds),
        holding_days=data.holding_days,
        active=True,
        created_at=now,
        updated_at=now,
    )
    _apply_email(affiliate, data.email)
    await _apply_commission(session, affiliate, data.commission)
    session.add(affiliate)
    await _flush(session, affiliate)
    await session.refresh(affiliate)
    return affiliate


def own_affiliate_id(principal: Principal) -> int:
    """The affiliate a /v1/me call is about: always the key's own, never one named."""
    if principal.affiliate_id is None:  # an admin key: it is no affiliate
        raise NotFound("affiliate_not_found", "This API key is not bound to an affiliate")
    return principal.affiliate_id


async def get_affiliate(session: AsyncSession, affiliate_id: int | None) -> Affiliate:
    affiliate = await session.get(Affiliate, affiliate_id) if affiliate_id is not None else None
    if affiliate is None:
        raise NotFound("affiliate_not_found", "No such affiliate")
    return affiliate


async def list_affiliates(
    session: AsyncSession, *, active: bool | None, after_id: int | None, limit: int
) -> list[Affiliate]:
    query = select(Affiliate).order_by(Affiliate.id).limit(limit)
    if active is not None:
        query = query.where(Affiliate.active.is_(active))
    if after_id is not None:
        query = query.where(Affiliate.id > after_id)
    return list((await session.scalars(query)).all())


async def patch_affiliate(
    session: AsyncSession, affiliate: Affiliate, patch: AffiliatePatch, *, now: datetime
) -> Affiliate:
    """Apply the fields sent. A new ``holding_days`` applies to commissions earned later."""
    if patch.commission is not UNSET:
        _check_commission(patch.commission)
    if patch.payout_thresholds is not UNSET:
        _check_thresholds(patch.payout_thresholds)
    if patch.name is not UNSET:
        affiliate.name = patch.name
    if patch.email is not UNSET:
        _apply_email(affiliate, patch.email)
    if patch.commission is not UNSET:
        await _apply_commission(session, affiliate, patch.commission)
    if patch.payout_thresholds is not UNSET:
        affiliate.payout_thresholds = dict(patch.payout_thresholds)
    if patch.holding_days is not UNSET:
        affiliate.holding_days = patch.holding_days
    if patch.active is not UNSET:
        affiliate.active = patch.active
    affiliate.updated_at = now
    await _flush(session, affiliate)
    await session.refresh(affiliate)
    return affiliate
