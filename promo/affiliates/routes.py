"""/v1/affiliates (marketer) and /v1/me (an affiliate's self-service).

Under /v1/me the affiliate is always the one bound to the calling key, never
one named in the request, so an affiliate cannot reach another's data. The
affiliates' codes (``/v1/affiliates/{id}/codes``, ``/v1/me/codes``) are the
codes domain's routes (``promo.codes.dedicated_routes``): codes sit above
affiliates.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from litestar import Controller, get, patch, post
from litestar.params import FromPath, JSONBody, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from promo import audit
from promo.affiliates import service
from promo.affiliates.models import Affiliate
from promo.affiliates.schemas import (
    AffiliateCreate,
    AffiliateCreated,
    AffiliatePage,
    AffiliatePatch,
    AffiliateRead,
)
from promo.auth.guards import allow
from promo.auth.roles import Principal, Role
from promo.auth.service import create_key
from promo.campaigns import service as campaigns
from promo.campaigns.schemas import Commission, OpenCampaign, OpenCampaignPage
from promo.deps import Caller, ClockDep, DbSession, PageCursor, PageLimit
from promo.ids import Kind, encode, require
from promo.plans import service as plans
from promo.plans.pricing import Plan, applicable_plan
from promo.schemas import DEFAULT_LIMIT, decode_cursor, next_cursor


def affiliate_read(affiliate: Affiliate) -> AffiliateRead:
    return AffiliateRead(
        id=encode(Kind.AFFILIATE, affiliate.id),
        name=affiliate.name,
        email=affiliate.email,
        commission=service.commission_of(affiliate),
        payout_thresholds=dict(affiliate.payout_thresholds),
        holding_days=affiliate.holding_days,
        active=affiliate.active,
        created_at=affiliate.created_at,
        updated_at=affiliate.updated_at,
    )


async def create(
    session: AsyncSession, data: AffiliateCreate, *, principal: Principal, now: datetime
) -> AffiliateCreated:
    """Create an affiliate (and its API key when asked), audited: the API's
    POST and the console's form."""
    affiliate = await service.create_affiliate(session, data, now=now)
    key = None
    if data.create_key:
        _, key = await create_key(
            session,
            role=Role.AFFILIATE,
            affiliate_id=affiliate.id,
            name=f"affiliate {data.name}"[:200],
            now=now,
        )
    read = affiliate_read(affiliate)
    await audit.record(session, principal, "affiliate.create", read.id, now=now, details=data)
    return AffiliateCreated(**msgspec.structs.asdict(read), key=key)


async def change(
    session: AsyncSession,
    affiliate_id: int,
    data: AffiliatePatch,
    *,
    principal: Principal,
    now: datetime,
) -> AffiliateRead:
    """Patch an affiliate (deactivating disables its codes and keys), audited."""
    affiliate = await service.get_affiliate(session, affiliate_id)
    read = affiliate_read(await service.patch_affiliate(session, affiliate, data, now=now))
    await audit.record(session, principal, "affiliate.update", read.id, now=now, details=data)
    return read


class AffiliateController(Controller):
    path = "/v1/affiliates"
    tags = ["affiliates"]
    guards = [allow(Role.MARKETER)]

    @post("/", status_code=201)
    async def create_affiliate(
        self,
        data: JSONBody[AffiliateCreate],
        session: DbSession,
        clock: ClockDep,
        principal: Caller,
    ) -> AffiliateCreated:
        """Create an affiliate; with ``create_key`` its API key is in the answer, once."""
        return await create(session, data, principal=principal, now=clock())

    @get("/")
    async def list_affiliates(
        self,
        session: DbSession,
        active: Annotated[bool | None, QueryParameter()] = None,
        cursor: PageCursor = None,
        limit: PageLimit = DEFAULT_LIMIT,
    ) -> AffiliatePage:
        """Affiliates in creation order, optionally only active or inactive ones."""
        rows = await service.list_affiliates(
            session, active=active, after_id=decode_cursor(cursor), limit=limit
        )
        return AffiliatePage(
            items=[affiliate_read(a) for a in rows],
            next_cursor=next_cursor([a.id for a in rows], limit),
        )

    @get("/{affiliate_id:str}")
    async def get_affiliate(self, affiliate_id: FromPath[str], session: DbSession) -> AffiliateRead:
        affiliate = await service.get_affiliate(session, require(Kind.AFFILIATE, affiliate_id))
        return affiliate_read(affiliate)

    @patch("/{affiliate_id:str}")
    async def patch_affiliate(
        self,
        affiliate_id: FromPath[str],
        data: JSONBody[AffiliatePatch],
        session: DbSession,
        clock: ClockDep,
        principal: Caller,
    ) -> AffiliateRead:
        """Change fields; ``{"active": false}`` disables its codes and refuses its keys."""
        return await change(
            session, require(Kind.AFFILIATE, affiliate_id), data, principal=principal, now=clock()
        )


class MeController(Controller):
    path = "/v1/me"
    tags = ["me"]
    guards = [allow(Role.AFFILIATE)]

    @get("/")
    async def get_me(self, principal: Caller, session: DbSession) -> AffiliateRead:
        """The calling affiliate's own account."""
        affiliate = await service.get_affiliate(session, service.own_affiliate_id(principal))
        return affiliate_read(affiliate)

    @get("/campaigns")
    async def list_my_campaigns(
        self,
        principal: Caller,
        session: DbSession,
        clock: ClockDep,
        cursor: PageCursor = None,
        limit: PageLimit = DEFAULT_LIMIT,
    ) -> OpenCampaignPage:
        """Running campaigns open to affiliates, with the commission this affiliate earns."""
        return await open_campaigns(session, principal, now=clock(), cursor=cursor, limit=limit)


async def open_campaigns(
    session: AsyncSession,
    principal: Principal,
    *,
    now: datetime,
    cursor: str | None,
    limit: int,
) -> OpenCampaignPage:
    """The running campaigns open to affiliates, with the commission the calling
    affiliate earns on each: GET /v1/me/campaigns and the console's codes page."""
    affiliate = await service.get_affiliate(session, service.own_affiliate_id(principal))
    rows = await campaigns.list_open_campaigns(
        session, now=now, after_id=decode_cursor(cursor), limit=limit
    )
    own = Plan(percent=affiliate.commission_percent, fixed=affiliate.commission_fixed)
    own_plan = await plans.stored_plan(session, affiliate.commission_plan_id)
    items = []
    for campaign in rows:
        rules = campaigns.rules_of(campaign)
        default = campaigns.commission_of(campaign)
        campaign_plan = await plans.stored_plan(session, campaign.commission_plan_id)
        plan = applicable_plan(
            currency=campaign.currency,
            affiliate_plan=own_plan[0] if own_plan else None,
            affiliate_plan_currency=own_plan[1] if own_plan else None,
            affiliate_inline=own,
            campaign_plan=campaign_plan[0] if campaign_plan else None,
            campaign_inline=Plan(percent=default.percent, fixed=default.fixed),
        )
        items.append(
            OpenCampaign(
                id=encode(Kind.CAMPAIGN, campaign.id),
                name=campaign.name,
                currency=campaign.currency,
                starts_at=campaign.starts_at,
                ends_at=campaign.ends_at,
                timezone=campaign.timezone,
                code_prefix=campaign.code_prefix,
                affiliate_aliases=campaign.affiliate_aliases,
                max_aliases_per_affiliate=campaign.max_aliases_per_affiliate,
                discount=campaigns.discount_of(campaign),
                min_subtotal=rules.min_subtotal,
                min_quantity=rules.min_quantity,
                include_skus=rules.include_skus,
                include_categories=rules.include_categories,
                exclude_skus=rules.exclude_skus,
                exclude_categories=rules.exclude_categories,
                first_order_only=rules.first_order_only,
                # A plan's base rate and fixed part (its tiers and category
                # rates are the marketer's to tell).
                commission=Commission(
                    percent=campaigns.percent(plan.percent),
                    fixed=plan.fixed,
                    plan_id=plans.public_plan_id(plan.plan_id),
                ),
            )
        )
    return OpenCampaignPage(items=items, next_cursor=next_cursor([c.id for c in rows], limit))
