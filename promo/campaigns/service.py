"""Campaign lifecycle: create, read, list, update, and status transitions.

Consistency rules that a schema cannot express (window order, known currency
and timezone, percent precision, discount currency) are checked here and
reported as 422 naming the field.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec
from msgspec import UNSET
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from promo.campaigns.models import Campaign
from promo.campaigns.schemas import (
    CampaignCreate,
    CampaignPatch,
    Commission,
    DiscountSpec,
    FixedAmount,
    FreeShipping,
    Limits,
    Percentage,
    Rules,
)
from promo.codes.models import Code
from promo.errors import Conflict, Invalid, NotFound
from promo.money import is_currency

# Which status may follow which; archived is final.
TRANSITIONS: dict[str, frozenset[str]] = {
    "draft": frozenset({"draft", "active", "paused", "archived"}),
    "active": frozenset({"active", "paused", "archived"}),
    "paused": frozenset({"paused", "active", "archived"}),
    "archived": frozenset({"archived"}),
}
_CENT = Decimal("0.01")


def check_percent(field: str, percent: Decimal, *, allow_zero: bool) -> None:
    """The contract's percentage rule (at most 2 places, up to 100), shared with affiliates."""
    if not percent.is_finite() or percent != percent.quantize(_CENT):
        raise Invalid.field(field, "at most 2 decimal places")
    low_ok = percent >= 0 if allow_zero else percent > 0
    if not low_ok or percent > 100:
        bound = "0 <= percent" if allow_zero else "0 < percent"
        raise Invalid.field(field, f"must satisfy {bound} <= 100")


def _check(
    *,
    currency: str,
    starts_at: datetime,
    ends_at: datetime | None,
    timezone: str | None,
    discount: DiscountSpec,
    commission: Commission,
) -> None:
    if not is_currency(currency):
        raise Invalid.field("currency", f"unknown ISO 4217 currency {currency!r}")
    if ends_at is not None and ends_at <= starts_at:
        raise Invalid.field("ends_at", "must be after starts_at")
    if timezone is not None:
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise Invalid.field("timezone", f"unknown IANA timezone {timezone!r}") from None
    if isinstance(discount, Percentage):
        check_percent("discount.percent_off", discount.percent_off, allow_zero=False)
    if isinstance(discount, FixedAmount) and discount.currency not in (None, currency):
        raise Invalid.field("discount.currency", f"must be the campaign's currency {currency}")
    if commission.percent is not None:
        check_percent("commission.percent", commission.percent, allow_zero=True)


def percent(value: Decimal | None) -> Decimal | None:
    """Percentages are kept with exactly two places, whatever the database hands back."""
    return None if value is None else Decimal(value).quantize(_CENT)


def _apply_discount(campaign: Campaign, discount: DiscountSpec) -> None:
    campaign.discount_type = type(discount).__struct_config__.tag  # type: ignore[assignment]
    campaign.percent_off = (
        percent(discount.percent_off) if isinstance(discount, Percentage) else None
    )
    campaign.max_discount = discount.max_discount if isinstance(discount, Percentage) else None
    campaign.amount_off = discount.amount_off if isinstance(discount, FixedAmount) else None


def _apply_limits(campaign: Campaign, limits: Limits) -> None:
    campaign.max_redemptions = limits.max_redemptions
    campaign.max_redemptions_per_customer = limits.max_redemptions_per_customer
    campaign.budget = limits.budget


def _apply_commission(campaign: Campaign, commission: Commission) -> None:
    campaign.commission_percent = percent(commission.percent)
    campaign.commission_fixed = commission.fixed


def discount_of(campaign: Campaign) -> DiscountSpec:
    # Check constraints tie each discount type to its columns.
    if campaign.percent_off is not None:
        return Percentage(
            percent_off=percent(campaign.percent_off) or _CENT, max_discount=campaign.max_discount
        )
    if campaign.amount_off is not None:
        return FixedAmount(amount_off=campaign.amount_off, currency=campaign.currency)
    return FreeShipping()


def commission_of(campaign: Campaign) -> Commission:
    return Commission(percent=percent(campaign.commission_percent), fixed=campaign.commission_fixed)


def rules_of(campaign: Campaign) -> Rules:
    return msgspec.convert(campaign.rules, Rules)


async def create_campaign(
    session: AsyncSession, data: CampaignCreate, *, now: datetime
) -> Campaign:
    _check(
        currency=data.currency,
        starts_at=data.starts_at,
        ends_at=data.ends_at,
        timezone=data.timezone,
        discount=data.discount,
        commission=data.commission,
    )
    campaign = Campaign(
        name=data.name,
        status=data.status,
        currency=data.currency,
        starts_at=data.starts_at,
        ends_at=data.ends_at,
        timezone=data.timezone,
        code_prefix=data.code_prefix.upper() if data.code_prefix else None,
        open_to_affiliates=data.open_to_affiliates,
        rules=msgspec.to_builtins(data.rules),
        redemptions_used=0,
        budget_used=0,
        created_at=now,
        updated_at=now,
    )
    _apply_discount(campaign, data.discount)
    _apply_limits(campaign, data.limits)
    _apply_commission(campaign, data.commission)
    session.add(campaign)
    await session.flush()
    # Answer with what was stored (UTC instants, normalised numbers).
    await session.refresh(campaign)
    return campaign


async def get_campaign(session: AsyncSession, campaign_id: int | None) -> Campaign:
    campaign = await session.get(Campaign, campaign_id) if campaign_id is not None else None
    if campaign is None:
        raise NotFound("campaign_not_found", "No such campaign")
    return campaign


async def list_campaigns(
    session: AsyncSession, *, status: str | None, after_id: int | None, limit: int
) -> list[Campaign]:
    query = select(Campaign).order_by(Campaign.id).limit(limit)
    if status is not None:
        query = query.where(Campaign.status == status)
    if after_id is not None:
        query = query.where(Campaign.id > after_id)
    return list((await session.scalars(query)).all())


async def patch_campaign(
    session: AsyncSession, campaign: Campaign, patch: CampaignPatch, *, now: datetime
) -> Campaign:
    """Apply the fields sent. Later validations see the new terms; past
    redemptions keep the amounts they were granted."""
    if campaign.status == "archived":
        raise Conflict("campaign_archived", "An archived campaign is read-only")
    if patch.status is not UNSET and patch.status not in TRANSITIONS[campaign.status]:
        raise Conflict(
            "invalid_status_transition",
            f"A campaign cannot go from {campaign.status} to {patch.status}",
        )
    if patch.currency is not UNSET and patch.currency != campaign.currency:
        if campaign.status != "draft":
            raise Conflict("campaign_not_draft", "The currency can only change while in draft")
    currency = campaign.currency if patch.currency is UNSET else patch.currency
    discount = discount_of(campaign) if patch.discount is UNSET else patch.discount
    if (
        patch.currency is not UNSET
        and isinstance(discount, FixedAmount)
        and patch.discount is UNSET
    ):
        discount = FixedAmount(amount_off=discount.amount_off, currency=None)
    commission = commission_of(campaign) if patch.commission is UNSET else patch.commission
    _check(
        currency=currency,
        starts_at=campaign.starts_at if patch.starts_at is UNSET else patch.starts_at,
        ends_at=campaign.ends_at if patch.ends_at is UNSET else patch.ends_at,
        timezone=campaign.timezone if patch.timezone is UNSET else patch.timezone,
        discount=discount,
        commission=commission,
    )
    for field in ("name", "currency", "starts_at", "ends_at", "timezone", "open_to_affiliates"):
        value = getattr(patch, field)
        if value is not UNSET:
            setattr(campaign, field, value)
    if patch.code_prefix is not UNSET:
        campaign.code_prefix = patch.code_prefix.upper() if patch.code_prefix else None
    if patch.discount is not UNSET:
        _apply_discount(campaign, patch.discount)
    if patch.rules is not UNSET:
        campaign.rules = msgspec.to_builtins(patch.rules)
    if patch.limits is not UNSET:
        _apply_limits(campaign, patch.limits)
    if patch.commission is not UNSET:
        _apply_commission(campaign, patch.commission)
    if patch.status is not UNSET and patch.status != campaign.status:
        campaign.status = patch.status
        if patch.status == "archived":
            await release_codes(session, campaign.id)
    campaign.updated_at = now
    await session.flush()
    await session.refresh(campaign)
    return campaign


async def release_codes(session: AsyncSession, campaign_id: int) -> None:
    """Archiving frees the campaign's canonical forms for reuse (SUMMER20 next year).

    ``FOR UPDATE`` first: it waits for code inserts in flight (they hold the
    row ``FOR KEY SHARE``: the foreign key, a batch round), so the UPDATE
    below sees and releases their codes too; redemptions never take it.
    """
    await session.execute(select(Campaign.id).where(Campaign.id == campaign_id).with_for_update())
    await session.execute(
        update(Code).where(Code.campaign_id == campaign_id, Code.live).values(live=False)
    )


async def list_open_campaigns(
    session: AsyncSession, *, now: datetime, after_id: int | None, limit: int
) -> list[Campaign]:
    """Running campaigns that affiliates may ask a code for."""
    query = (
        select(Campaign)
        .where(
            Campaign.status == "active",
            Campaign.open_to_affiliates.is_(True),
            (Campaign.ends_at.is_(None)) | (Campaign.ends_at >= now),
        )
        .order_by(Campaign.id)
        .limit(limit)
    )
    if after_id is not None:
        query = query.where(Campaign.id > after_id)
    return list((await session.scalars(query)).all())
