"""Commission plans: create, revise, read; and the plan a stored row prices with.

Checks here are the ones a schema cannot state (two decimals, increasing
tiers, a known timezone); each names its field. A revision is appended for
every change, in the same transaction as the change.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec
from msgspec import UNSET
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from promo.errors import Invalid, NotFound
from promo.ids import Kind, decode, encode
from promo.money import is_currency
from promo.plans.models import CommissionPlan, CommissionPlanRevision
from promo.plans.pricing import Bonus, Plan, Tier, Tiers
from promo.plans.schemas import CommissionPlanCreate, CommissionPlanPatch, PlanTerms
from promo.schemas import check_percent, check_reach

CENT = Decimal("0.01")
TERM_FIELDS = tuple(f.name for f in msgspec.structs.fields(PlanTerms))


def _check_percent(field: str, value: Decimal | None) -> None:
    if value is not None:
        check_reach(field, value)
        check_percent(field, value, allow_zero=True)


def check_terms(terms: PlanTerms) -> None:
    """Every rule of a plan's terms the schema cannot state, naming the field."""
    _check_percent("percent", terms.percent)
    for category, rate in terms.category_rates.items():
        _check_percent(f"category_rates.{category}", rate)
    if terms.tiers is not None:
        previous = 0
        for number, level in enumerate(terms.tiers.levels):
            _check_percent(f"tiers.levels[{number}].percent", level.percent)
            if level.threshold <= previous:
                raise Invalid.field(
                    f"tiers.levels[{number}].threshold",
                    "thresholds must increase from one tier to the next",
                )
            previous = level.threshold


def _two_places(value: Decimal) -> Decimal:
    return value.quantize(CENT)


def normalised(terms: PlanTerms) -> PlanTerms:
    """Percentages with exactly two places, as every percentage is answered."""
    tiers = terms.tiers
    return msgspec.structs.replace(
        terms,
        percent=None if terms.percent is None else _two_places(terms.percent),
        category_rates={c: _two_places(r) for c, r in terms.category_rates.items()},
        tiers=None
        if tiers is None
        else msgspec.structs.replace(
            tiers,
            levels=[
                msgspec.structs.replace(level, percent=_two_places(level.percent))
                for level in tiers.levels
            ],
        ),
    )


def check_timezone(field: str, timezone: str) -> None:
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise Invalid.field(field, f"unknown IANA timezone {timezone!r}") from None


def terms_of(data: CommissionPlanCreate | PlanTerms) -> PlanTerms:
    return PlanTerms(**{name: getattr(data, name) for name in TERM_FIELDS})


def stored_terms(plan: CommissionPlan) -> PlanTerms:
    return msgspec.convert(plan.terms or {}, PlanTerms)


def _store(plan: CommissionPlan, terms: PlanTerms) -> None:
    plan.terms = msgspec.to_builtins(normalised(terms))


def _revision(plan: CommissionPlan, now: datetime) -> CommissionPlanRevision:
    return CommissionPlanRevision(
        plan_id=plan.id,
        revision=plan.revision,
        terms=dict(plan.terms),
        timezone=plan.timezone,
        created_at=now,
    )


async def create_plan(
    session: AsyncSession, data: CommissionPlanCreate, *, now: datetime
) -> CommissionPlan:
    if not is_currency(data.currency):
        raise Invalid.field("currency", f"unknown ISO 4217 currency {data.currency!r}")
    check_timezone("timezone", data.timezone)
    terms = terms_of(data)
    check_terms(terms)
    plan = CommissionPlan(
        name=data.name,
        currency=data.currency,
        timezone=data.timezone,
        revision=1,
        created_at=now,
        updated_at=now,
    )
    _store(plan, terms)
    session.add(plan)
    await session.flush()
    session.add(_revision(plan, now))
    await session.flush()
    return plan


async def patch_plan(
    session: AsyncSession, plan: CommissionPlan, patch: CommissionPlanPatch, *, now: datetime
) -> CommissionPlan:
    """Apply the fields sent; a change of terms or timezone is a new revision."""
    current = stored_terms(plan)
    changes: dict[str, Any] = {}
    for name in TERM_FIELDS:
        value = getattr(patch, name)
        if value is UNSET:
            continue
        if value is None:
            field = next(f for f in msgspec.structs.fields(PlanTerms) if f.name == name)
            value = (
                field.default_factory() if field.default_factory is not msgspec.NODEFAULT else None
            )
        changes[name] = value
    terms = msgspec.structs.replace(current, **changes)
    check_terms(terms)
    terms = normalised(terms)
    if patch.timezone is not UNSET:
        check_timezone("timezone", patch.timezone)
    if patch.name is not UNSET:
        plan.name = patch.name
    revised = terms != current or (patch.timezone is not UNSET and patch.timezone != plan.timezone)
    if revised:
        if patch.timezone is not UNSET:
            plan.timezone = patch.timezone
        _store(plan, terms)
        plan.revision += 1
        session.add(_revision(plan, now))
    plan.updated_at = now
    await session.flush()
    return plan


async def get_plan(session: AsyncSession, plan_id: int | None) -> CommissionPlan:
    plan = await session.get(CommissionPlan, plan_id) if plan_id is not None else None
    if plan is None:
        raise NotFound("commission_plan_not_found", "No such commission plan")
    return plan


async def list_plans(
    session: AsyncSession, *, after_id: int | None, limit: int
) -> list[CommissionPlan]:
    query = select(CommissionPlan).order_by(CommissionPlan.id).limit(limit)
    if after_id is not None:
        query = query.where(CommissionPlan.id > after_id)
    return list((await session.scalars(query)).all())


async def list_revisions(session: AsyncSession, plan_id: int) -> list[CommissionPlanRevision]:
    query = (
        select(CommissionPlanRevision)
        .where(CommissionPlanRevision.plan_id == plan_id)
        .order_by(CommissionPlanRevision.revision)
    )
    return list((await session.scalars(query)).all())


async def attached_plan(
    session: AsyncSession, field: str, plan_id: str | None, currency: str | None
) -> int | None:
    """The key of the plan a campaign's or an affiliate's commission names, checked
    to exist and (for a campaign) to price its ``currency``; None for no plan."""
    if plan_id is None:
        return None
    key = decode(Kind.COMMISSION_PLAN, plan_id)
    plan = await session.get(CommissionPlan, key) if key is not None else None
    if plan is None:
        raise Invalid.field(field, f"no such commission plan {plan_id[:40]!r}")
    if currency is not None and plan.currency != currency:
        raise Invalid.field(
            field, f"the plan prices {plan.currency}, not the campaign's currency {currency}"
        )
    return plan.id


async def stored_plan(session: AsyncSession, plan_id: int | None) -> tuple[Plan, str] | None:
    """The pricing rules of a stored plan and its currency, or None."""
    row = await session.get(CommissionPlan, plan_id) if plan_id is not None else None
    if row is None:
        return None
    return pricing_plan(row.id, row.revision, row.timezone, row.terms), row.currency


def public_plan_id(plan_id: int | None) -> str | None:
    return None if plan_id is None else encode(Kind.COMMISSION_PLAN, plan_id)


def _pricing_plan(plan_id: int, revision: int, timezone: str, terms: Mapping[str, Any]) -> Plan:
    stored = msgspec.convert(terms, PlanTerms)
    return Plan(
        percent=stored.percent,
        fixed=stored.fixed,
        category_rates=dict(stored.category_rates),
        tiers=Tiers(
            basis=stored.tiers.basis,
            levels=tuple(
                Tier(threshold=t.threshold, percent=t.percent) for t in stored.tiers.levels
            ),
        )
        if stored.tiers is not None
        else None,
        bonus=Bonus(
            basis=stored.bonus.basis, threshold=stored.bonus.threshold, amount=stored.bonus.amount
        )
        if stored.bonus is not None
        else None,
        action_fees=dict(stored.action_fees),
        timezone=timezone,
        plan_id=plan_id,
        revision=revision,
    )


@lru_cache(maxsize=1024)
def _cached(plan_id: int, revision: int, timezone: str, terms: bytes) -> Plan:
    return _pricing_plan(plan_id, revision, timezone, msgspec.json.decode(terms))


def pricing_plan(plan_id: int, revision: int, timezone: str, terms: Any) -> Plan:
    """The pricing rules of a stored plan revision. Revisions never change, so
    the decoded plan is cached by (id, revision): the checkout reads the row's
    terms with every offer and decodes them once per revision and worker."""
    if isinstance(terms, str | bytes):
        raw = terms.encode() if isinstance(terms, str) else terms
    else:
        raw = msgspec.json.encode(terms)
    return _cached(plan_id, revision, timezone, raw)
