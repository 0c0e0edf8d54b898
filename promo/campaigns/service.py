"""Campaign lifecycle: create, read, list, update, and status transitions.

Consistency rules that a schema cannot express (window order, known currency
and timezone, percent precision, discount currency, a prefix for affiliates'
aliases, a budget no lower than what is spent) are checked here and reported
as 422 naming the field.

Codes sit above campaigns: archiving releases the campaign's codes, which is
the codes domain's business, so the caller hands ``patch_campaign`` the codes
domain's ``release_codes`` (``ReleaseCodes``) instead of this module reaching up.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec
from msgspec import UNSET
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from promo.campaigns.merge import merge
from promo.campaigns.models import Campaign
from promo.campaigns.schemas import (
    BuyXGetY,
    CampaignCreate,
    CampaignPatch,
    Commission,
    DiscountSpec,
    FixedAmount,
    Limits,
    Percentage,
    ReferralTerms,
    Rules,
    RulesPatch,
    StackingTerms,
    Tiered,
)
from promo.campaigns.stored_discount import discount_columns, discount_document
from promo.errors import Conflict, FieldError, Invalid, NotFound
from promo.identity import customer_refs
from promo.ids import Kind, decode, encode
from promo.money import is_currency
from promo.pii import Keyring
from promo.plans import service as plans
from promo.schemas import check_percent as check_percent

# Which status may follow which; archived is final.
TRANSITIONS: dict[str, frozenset[str]] = {
    "draft": frozenset({"draft", "active", "paused", "archived"}),
    "active": frozenset({"active", "paused", "archived"}),
    "paused": frozenset({"paused", "active", "archived"}),
    "archived": frozenset({"archived"}),
}
_CENT = Decimal("0.01")

ReleaseCodes = Callable[[AsyncSession, int], Awaitable[None]]
"""Frees an archived campaign's canonical forms for reuse (promo.codes.service.release_codes)."""

MakeAutomaticCode = Callable[[AsyncSession, int, datetime], Awaitable[object]]
"""Makes an automatic campaign's one code (promo.codes.automatic.create_automatic_code)."""


def _check(
    *,
    currency: str,
    starts_at: datetime,
    ends_at: datetime | None,
    timezone: str | None,
    discount: DiscountSpec,
    commission: Commission,
    code_prefix: str | None,
    affiliate_aliases: bool,
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
    _check_discount_percents(discount)
    if isinstance(discount, FixedAmount) and discount.currency not in (None, currency):
        raise Invalid.field("discount.currency", f"must be the campaign's currency {currency}")
    check_commission(commission)
    if affiliate_aliases and not code_prefix:
        # Without a prefix an affiliate could take any code at all (FREE50, SUMMER20).
        raise Invalid.field(
            "code_prefix", "required while affiliate_aliases is true: aliases begin with it"
        )


def _check_discount_percents(discount: DiscountSpec) -> None:
    """The contract's percentage rule on every percent of the discount."""
    if isinstance(discount, Percentage | BuyXGetY):
        check_percent("discount.percent_off", discount.percent_off, allow_zero=False)
    if isinstance(discount, Tiered):
        for index, tier in enumerate(discount.tiers):
            if tier.percent_off is not None:
                field = f"discount.tiers[{index}].percent_off"
                check_percent(field, tier.percent_off, allow_zero=False)


def check_commission(commission: Commission) -> None:
    """The commission section's rules (campaigns' and affiliates')."""
    if commission.percent is not None:
        check_percent("commission.percent", commission.percent, allow_zero=True)
    if commission.plan_id is not None and (
        commission.percent is not None or commission.fixed is not None
    ):
        raise Invalid.field(
            "commission.plan_id", "a plan replaces percent and fixed: send one or the other"
        )


def _check_budget(budget: int | None, budget_used: int) -> None:
    """A budget covers at least what was already granted; lowering it to exactly that
    exhausts the campaign."""
    if budget is not None and budget < budget_used:
        message = f"must be at least {budget_used}, the discount already granted"
        raise Invalid(
            "budget_below_spent",
            f"limits.budget: {message}",
            errors=[FieldError("limits.budget", message)],
            extra={"budget_used": budget_used},
        )


def percent(value: Decimal | None) -> Decimal | None:
    """Percentages are kept with exactly two places, whatever the database hands back."""
    return None if value is None else Decimal(value).quantize(_CENT)


def _apply_discount(campaign: Campaign, discount: DiscountSpec) -> None:
    for column, value in discount_columns(discount).items():
        setattr(campaign, column, value)


def _apply_limits(campaign: Campaign, limits: Limits) -> None:
    campaign.max_redemptions = limits.max_redemptions
    campaign.max_redemptions_per_customer = limits.max_redemptions_per_customer
    campaign.budget = limits.budget


async def _apply_commission(
    session: AsyncSession, campaign: Campaign, commission: Commission
) -> None:
    campaign.commission_plan_id = await plans.attached_plan(
        session, "commission.plan_id", commission.plan_id, campaign.currency
    )
    campaign.commission_percent = percent(commission.percent)
    campaign.commission_fixed = commission.fixed


def discount_of(campaign: Campaign) -> DiscountSpec:
    """The campaign's discount as the API shows it (a fixed amount with its currency)."""
    discount: DiscountSpec = msgspec.convert(discount_document(campaign), DiscountSpec)
    if isinstance(discount, FixedAmount):
        return msgspec.structs.replace(discount, currency=campaign.currency)
    return discount


def commission_of(campaign: Campaign) -> Commission:
    return Commission(
        percent=percent(campaign.commission_percent),
        fixed=campaign.commission_fixed,
        plan_id=plans.public_plan_id(campaign.commission_plan_id),
    )


MAX_ALLOWED_CUSTOMERS = 10_000


def _allow_list(keyring: Keyring, ids: list[str], refs: list[str]) -> list[str]:
    """One allow-list of refs from customer ids (hashed here) and refs as given."""
    allowed = list(dict.fromkeys([*customer_refs(keyring, ids), *refs]))
    if len(allowed) > MAX_ALLOWED_CUSTOMERS:
        raise Invalid.field("rules.customer_ids", f"at most {MAX_ALLOWED_CUSTOMERS} customers")
    return allowed


def pseudonymised(data: CampaignCreate, keyring: Keyring) -> CampaignCreate:
    """The campaign as promo keeps (and audits) it: the allow-list's customer ids
    replaced by their refs (promo.pii), so that no customer id is stored."""
    rules = data.rules
    allowed = _allow_list(keyring, rules.customer_ids, rules.customer_refs)
    return msgspec.structs.replace(
        data, rules=msgspec.structs.replace(rules, customer_ids=[], customer_refs=allowed)
    )


def pseudonymised_patch(patch: CampaignPatch, keyring: Keyring) -> CampaignPatch:
    """``pseudonymised`` for a patch: ``customer_ids`` and ``customer_refs`` are two
    spellings of one list, which a patch giving either replaces (null: removes)."""
    rules = patch.rules
    if not isinstance(rules, RulesPatch) or (
        rules.customer_ids is UNSET and rules.customer_refs is UNSET
    ):
        return patch
    ids = rules.customer_ids if isinstance(rules.customer_ids, list) else None
    refs = rules.customer_refs if isinstance(rules.customer_refs, list) else None
    allowed = None if ids is None and refs is None else _allow_list(keyring, ids or [], refs or [])
    return msgspec.structs.replace(
        patch,
        rules=msgspec.structs.replace(rules, customer_ids=UNSET, customer_refs=allowed),
    )


def referral_of(campaign: Campaign) -> ReferralTerms | None:
    """A referral campaign's terms as answered (the reward campaign by public id)."""
    if campaign.referral is None:
        return None
    stored = dict(campaign.referral)
    reward = stored.get("reward_campaign_id")
    stored["reward_campaign_id"] = encode(Kind.CAMPAIGN, reward) if reward is not None else None
    return msgspec.convert(stored, ReferralTerms)


async def _stored_referral(
    session: AsyncSession, kind: str, terms: ReferralTerms | None, currency: str
) -> dict[str, Any] | None:
    """A referral campaign's terms as stored, checked: one reward, and a reward
    campaign (by key) in the same currency that is not a referral program."""
    if kind != "referral":
        if terms is not None:
            raise Invalid.field("referral", "only a campaign of kind referral has referral terms")
        return None
    if terms is None:
        raise Invalid.field("referral", "a referral campaign needs its terms")
    if (terms.reward_campaign_id is None) == (terms.reward_credit is None):
        raise Invalid.field(
            "referral.reward_campaign_id", "give either reward_campaign_id or reward_credit"
        )
    stored = msgspec.to_builtins(terms)
    if terms.reward_campaign_id is not None:
        key = decode(Kind.CAMPAIGN, terms.reward_campaign_id)
        reward = await session.get(Campaign, key) if key is not None else None
        if reward is None:
            raise Invalid.field("referral.reward_campaign_id", "no such campaign")
        if reward.kind == "referral" or reward.currency != currency:
            raise Invalid.field(
                "referral.reward_campaign_id",
                f"must be a campaign in {currency} that is not a referral program",
            )
        stored["reward_campaign_id"] = reward.id
    return dict(stored)


def _referral_rules(kind: str, rules: Rules, *, created: bool) -> Rules:
    """A referral campaign's codes are for first orders: set on creation, kept after."""
    if kind != "referral" or rules.first_order_only:
        return rules
    if created:
        return msgspec.structs.replace(rules, first_order_only=True)
    raise Invalid.field("rules.first_order_only", "a referral campaign is for first orders")


def rules_of(campaign: Campaign) -> Rules:
    return msgspec.convert(campaign.rules, Rules)


def stacking_of(campaign: Campaign) -> StackingTerms:
    return msgspec.convert(campaign.stacking, StackingTerms)


def _automatic(kind: str, automatic: bool) -> bool:
    if automatic and kind == "referral":
        raise Invalid.field("automatic", "a referral program applies through its referrers' codes")
    return automatic


def limits_of(campaign: Campaign) -> Limits:
    return Limits(
        max_redemptions=campaign.max_redemptions,
        max_redemptions_per_customer=campaign.max_redemptions_per_customer,
        budget=campaign.budget,
    )


def code_prefix(text: str | None) -> str | None:
    """Prefixes are stored upper-case, as dedicated codes show them."""
    return text.upper() if text else None


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
        code_prefix=data.code_prefix,
        affiliate_aliases=data.affiliate_aliases,
    )
    campaign = Campaign(
        name=data.name,
        status=data.status,
        currency=data.currency,
        starts_at=data.starts_at,
        ends_at=data.ends_at,
        timezone=data.timezone,
        code_prefix=code_prefix(data.code_prefix),
        open_to_affiliates=data.open_to_affiliates,
        affiliate_aliases=data.affiliate_aliases,
        max_aliases_per_affiliate=data.max_aliases_per_affiliate,
        kind=data.kind,
        referral=await _stored_referral(session, data.kind, data.referral, data.currency),
        rules=msgspec.to_builtins(_referral_rules(data.kind, data.rules, created=True)),
        stacking=msgspec.to_builtins(data.stacking),
        automatic=_automatic(data.kind, data.automatic),
        redemptions_used=0,
        budget_used=0,
        created_at=now,
        updated_at=now,
    )
    _apply_discount(campaign, data.discount)
    _apply_limits(campaign, data.limits)
    await _apply_commission(session, campaign, data.commission)
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
    session: AsyncSession,
    campaign: Campaign,
    patch: CampaignPatch,
    *,
    release_codes: ReleaseCodes,
    now: datetime,
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
        discount = msgspec.structs.replace(discount, currency=None)
    rules = rules_of(campaign) if patch.rules is UNSET else merge(rules_of(campaign), patch.rules)
    limits = (
        limits_of(campaign) if patch.limits is UNSET else merge(limits_of(campaign), patch.limits)
    )
    commission = (
        commission_of(campaign)
        if patch.commission is UNSET
        else merge(commission_of(campaign), patch.commission)
    )
    prefix = campaign.code_prefix if patch.code_prefix is UNSET else code_prefix(patch.code_prefix)
    _check(
        currency=currency,
        starts_at=campaign.starts_at if patch.starts_at is UNSET else patch.starts_at,
        ends_at=campaign.ends_at if patch.ends_at is UNSET else patch.ends_at,
        timezone=campaign.timezone if patch.timezone is UNSET else patch.timezone,
        discount=discount,
        commission=commission,
        code_prefix=prefix,
        affiliate_aliases=(
            campaign.affiliate_aliases
            if patch.affiliate_aliases is UNSET
            else patch.affiliate_aliases
        ),
    )
    if limits.budget is not None and limits.budget != campaign.budget:
        # Hold the row so that no redemption spends more between this check and
        # the commit (they wait for it, then see the new budget).
        await session.refresh(campaign, ["budget_used"], with_for_update=True)
        _check_budget(limits.budget, campaign.budget_used)
    for field in (
        "name",
        "currency",
        "starts_at",
        "ends_at",
        "timezone",
        "open_to_affiliates",
        "affiliate_aliases",
        "max_aliases_per_affiliate",
    ):
        value = getattr(patch, field)
        if value is not UNSET:
            setattr(campaign, field, value)
    campaign.code_prefix = prefix
    if patch.discount is not UNSET:
        _apply_discount(campaign, patch.discount)
    campaign.rules = msgspec.to_builtins(_referral_rules(campaign.kind, rules, created=False))
    if patch.stacking is not UNSET:
        campaign.stacking = msgspec.to_builtins(merge(stacking_of(campaign), patch.stacking))
    if patch.referral is not UNSET:
        campaign.referral = await _stored_referral(
            session, campaign.kind, patch.referral, campaign.currency
        )
    _apply_limits(campaign, limits)
    await _apply_commission(session, campaign, commission)
    if patch.status is not UNSET and patch.status != campaign.status:
        campaign.status = patch.status
        if patch.status == "archived":
            await release_codes(session, campaign.id)
    campaign.updated_at = now
    await session.flush()
    await session.refresh(campaign)
    return campaign


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
