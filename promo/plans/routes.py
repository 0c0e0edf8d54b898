"""/v1/commission-plans (marketer): plans, their revisions.

The route bodies are plain functions, shared with the console's forms.
"""

from __future__ import annotations

from datetime import datetime

import msgspec
from litestar import Controller, get, patch, post
from litestar.params import FromPath, JSONBody
from sqlalchemy.ext.asyncio import AsyncSession

from promo import audit
from promo.auth.guards import allow
from promo.auth.roles import Principal, Role
from promo.deps import Caller, ClockDep, DbSession, PageCursor, PageLimit
from promo.ids import Kind, encode, require
from promo.plans import service
from promo.plans.models import CommissionPlan, CommissionPlanRevision
from promo.plans.schemas import (
    CommissionPlanCreate,
    CommissionPlanPage,
    CommissionPlanPatch,
    CommissionPlanRead,
    PlanRevisionPage,
    PlanRevisionRead,
    PlanTerms,
)
from promo.schemas import DEFAULT_LIMIT, decode_cursor, next_cursor


def plan_read(plan: CommissionPlan) -> CommissionPlanRead:
    terms = service.stored_terms(plan)
    return CommissionPlanRead(
        id=encode(Kind.COMMISSION_PLAN, plan.id),
        name=plan.name,
        currency=plan.currency,
        timezone=plan.timezone,
        revision=plan.revision,
        percent=terms.percent,
        fixed=terms.fixed,
        category_rates=dict(terms.category_rates),
        tiers=terms.tiers,
        bonus=terms.bonus,
        action_fees=dict(terms.action_fees),
        created_at=plan.created_at,
        updated_at=plan.updated_at,
    )


def revision_read(revision: CommissionPlanRevision) -> PlanRevisionRead:
    return PlanRevisionRead(
        revision=revision.revision,
        timezone=revision.timezone,
        terms=msgspec.convert(revision.terms, PlanTerms),
        created_at=revision.created_at,
    )


async def create(
    session: AsyncSession, data: CommissionPlanCreate, *, principal: Principal, now: datetime
) -> CommissionPlanRead:
    """Create a plan, audited: the API's POST and the console's form."""
    read = plan_read(await service.create_plan(session, data, now=now))
    await audit.record(session, principal, "commission_plan.create", read.id, now=now, details=data)
    return read


async def change(
    session: AsyncSession,
    plan_id: int | None,
    data: CommissionPlanPatch,
    *,
    principal: Principal,
    now: datetime,
) -> CommissionPlanRead:
    """Revise a plan, audited: the API's PATCH and the console's edit form."""
    plan = await service.get_plan(session, plan_id)
    read = plan_read(await service.patch_plan(session, plan, data, now=now))
    await audit.record(session, principal, "commission_plan.update", read.id, now=now, details=data)
    return read


class CommissionPlanController(Controller):
    path = "/v1/commission-plans"
    tags = ["commission-plans"]
    guards = [allow(Role.MARKETER)]

    @post("/", status_code=201)
    async def create_plan(
        self,
        data: JSONBody[CommissionPlanCreate],
        session: DbSession,
        clock: ClockDep,
        principal: Caller,
    ) -> CommissionPlanRead:
        """Create a commission plan; attach it to campaigns and affiliates by
        ``commission.plan_id``."""
        return await create(session, data, principal=principal, now=clock())

    @get("/")
    async def list_plans(
        self, session: DbSession, cursor: PageCursor = None, limit: PageLimit = DEFAULT_LIMIT
    ) -> CommissionPlanPage:
        """Plans in creation order."""
        rows = await service.list_plans(session, after_id=decode_cursor(cursor), limit=limit)
        return CommissionPlanPage(
            items=[plan_read(p) for p in rows], next_cursor=next_cursor([p.id for p in rows], limit)
        )

    @get("/{plan_id:str}")
    async def get_plan(self, plan_id: FromPath[str], session: DbSession) -> CommissionPlanRead:
        return plan_read(await service.get_plan(session, require(Kind.COMMISSION_PLAN, plan_id)))

    @patch("/{plan_id:str}")
    async def patch_plan(
        self,
        plan_id: FromPath[str],
        data: JSONBody[CommissionPlanPatch],
        session: DbSession,
        clock: ClockDep,
        principal: Caller,
    ) -> CommissionPlanRead:
        """Revise a plan: the new revision prices sales made from now on; what
        was priced before keeps the plan, revision and rate it recorded."""
        return await change(
            session,
            require(Kind.COMMISSION_PLAN, plan_id),
            data,
            principal=principal,
            now=clock(),
        )

    @get("/{plan_id:str}/revisions")
    async def list_revisions(self, plan_id: FromPath[str], session: DbSession) -> PlanRevisionPage:
        """Every revision of the plan, oldest first: the terms each priced sales with."""
        plan = await service.get_plan(session, require(Kind.COMMISSION_PLAN, plan_id))
        rows = await service.list_revisions(session, plan.id)
        return PlanRevisionPage(items=[revision_read(r) for r in rows])
