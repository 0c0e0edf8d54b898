"""/v1/campaigns (marketer).

Archiving releases the campaign's codes, and an automatic campaign gets its
one code: the codes domain's steps, received by dependency injection
(``release_codes``, ``automatic_code``, provided by the app) because this
domain sits below codes and never imports it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from litestar import Controller, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from promo import audit
from promo.auth.guards import allow
from promo.auth.roles import Principal, Role
from promo.campaigns import service
from promo.campaigns.schemas import (
    CampaignCreate,
    CampaignPage,
    CampaignPatch,
    CampaignRead,
    Status,
)
from promo.campaigns.views import campaign_read
from promo.deps import Caller, ClockDep, DbSession, KeyringDep, PageCursor, PageLimit
from promo.ids import Kind, decode
from promo.pii import Keyring
from promo.schemas import DEFAULT_LIMIT, decode_cursor, next_cursor

ReleaseCodesDep = NamedDependency[service.ReleaseCodes]
AutomaticCodeDep = NamedDependency[service.MakeAutomaticCode]


async def create(
    session: AsyncSession,
    data: CampaignCreate,
    *,
    principal: Principal,
    keyring: Keyring,
    automatic_code: service.MakeAutomaticCode,
    now: datetime,
) -> CampaignRead:
    """Create a campaign and audit it: the API's POST and the console's form."""
    data = service.pseudonymised(data, keyring)
    campaign = await service.create_campaign(session, data, now=now)
    if campaign.automatic:
        await automatic_code(session, campaign.id, now)
    read = campaign_read(campaign)
    await audit.record(session, principal, "campaign.create", read.id, now=now, details=data)
    return read


async def change(
    session: AsyncSession,
    campaign_id: int | None,
    data: CampaignPatch,
    *,
    principal: Principal,
    keyring: Keyring,
    release_codes: service.ReleaseCodes,
    now: datetime,
) -> CampaignRead:
    """Patch a campaign and audit it: the API's PATCH, the console's edit form
    and its pause, resume and archive buttons."""
    data = service.pseudonymised_patch(data, keyring)
    campaign = await service.get_campaign(session, campaign_id)
    changed = await service.patch_campaign(
        session, campaign, data, release_codes=release_codes, now=now
    )
    patched = campaign_read(changed)
    await audit.record(session, principal, "campaign.update", patched.id, now=now, details=data)
    return patched


class CampaignController(Controller):
    path = "/v1/campaigns"
    tags = ["campaigns"]
    guards = [allow(Role.MARKETER)]

    @post("/", status_code=201)
    async def create_campaign(
        self,
        data: JSONBody[CampaignCreate],
        session: DbSession,
        clock: ClockDep,
        principal: Caller,
        keyring: KeyringDep,
        automatic_code: AutomaticCodeDep,
    ) -> CampaignRead:
        """Create a campaign (draft by default)."""
        return await create(
            session,
            data,
            principal=principal,
            keyring=keyring,
            automatic_code=automatic_code,
            now=clock(),
        )

    @get("/")
    async def list_campaigns(
        self,
        session: DbSession,
        status: Annotated[Status | None, QueryParameter()] = None,
        cursor: PageCursor = None,
        limit: PageLimit = DEFAULT_LIMIT,
    ) -> CampaignPage:
        """Campaigns in creation order, optionally of one status."""
        rows = await service.list_campaigns(
            session, status=status, after_id=decode_cursor(cursor), limit=limit
        )
        return CampaignPage(
            items=[campaign_read(c) for c in rows],
            next_cursor=next_cursor([c.id for c in rows], limit),
        )

    @get("/{campaign_id:str}")
    async def get_campaign(self, campaign_id: FromPath[str], session: DbSession) -> CampaignRead:
        campaign = await service.get_campaign(session, decode(Kind.CAMPAIGN, campaign_id))
        return campaign_read(campaign)

    @patch("/{campaign_id:str}")
    async def patch_campaign(
        self,
        campaign_id: FromPath[str],
        data: JSONBody[CampaignPatch],
        session: DbSession,
        clock: ClockDep,
        principal: Caller,
        release_codes: ReleaseCodesDep,
        keyring: KeyringDep,
    ) -> CampaignRead:
        """Change fields, or the status (pause, resume, archive). Archived is final.

        ``rules``, ``limits`` and ``commission`` are JSON merge patches (RFC 7396)."""
        return await change(
            session,
            decode(Kind.CAMPAIGN, campaign_id),
            data,
            principal=principal,
            keyring=keyring,
            release_codes=release_codes,
            now=clock(),
        )
