"""/v1/campaigns/{id}/codes and /v1/codes/{code} (marketer)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from litestar import Controller, get, patch, post
from litestar.params import FromPath, JSONBody, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from promo import audit
from promo.auth.guards import allow
from promo.auth.roles import Principal, Role
from promo.campaigns.service import get_campaign
from promo.codes import binding, service
from promo.codes.models import Code
from promo.codes.schemas import CodeCreate, CodePage, CodePatch, CodeRead
from promo.deps import Caller, ClockDep, DbSession, KeyringDep, PageCursor, PageLimit
from promo.ids import Kind, decode, encode, optional
from promo.pii import Keyring
from promo.schemas import DEFAULT_LIMIT, decode_cursor, next_cursor


def code_read(code: Code) -> CodeRead:
    return CodeRead(
        code=code.code,
        canonical=code.canonical,
        kind=code.kind,  # type: ignore[arg-type]
        campaign_id=encode(Kind.CAMPAIGN, code.campaign_id),
        affiliate_id=encode(Kind.AFFILIATE, code.affiliate_id) if code.affiliate_id else None,
        max_redemptions=code.max_redemptions,
        used=code.used,
        active=code.active,
        channel=code.channel,
        created_at=code.created_at,
        starts_at=code.starts_at,
        expires_at=code.expires_at,
        bound=code.customer_ref is not None,
    )


async def create(
    session: AsyncSession,
    campaign_id: int | None,
    data: CodeCreate,
    *,
    principal: Principal,
    keyring: Keyring,
    now: datetime,
) -> CodeRead:
    """Create one vanity code, audited: the API's POST and the console's form.
    A customer it is bound to is kept (and audited) as its ref only."""
    campaign = await get_campaign(session, campaign_id)
    bound_to = binding.customer_ref(keyring, data.customer_id, data.customer_email)
    data = msgspec.structs.replace(data, customer_id=None, customer_email=None)
    code = await service.create_code(
        session,
        campaign,
        text=data.code,
        max_redemptions=data.max_redemptions,
        affiliate_id=optional(Kind.AFFILIATE, data.affiliate_id),
        now=now,
        channel=data.channel,
        starts_at=data.starts_at,
        expires_at=data.expires_at,
        customer_ref=bound_to,
    )
    # Who it is bound to is not audited, not even as a ref: only that it is.
    asked = msgspec.to_builtins(data)
    details = {k: v for k, v in asked.items() if k not in ("customer_id", "customer_email")}
    details["bound"] = bound_to is not None
    await audit.record(session, principal, "code.create", code.code, now=now, details=details)
    return code_read(code)


async def change(
    session: AsyncSession, text: str, data: CodePatch, *, principal: Principal, now: datetime
) -> CodeRead:
    """Disable, re-enable or relabel a live code, audited."""
    found = await service.find_code(session, text)
    patched = await service.patch_code(session, found, data)
    await audit.record(session, principal, "code.update", patched.code, now=now, details=data)
    return code_read(patched)


class CampaignCodeController(Controller):
    path = "/v1/campaigns/{campaign_id:str}/codes"
    tags = ["codes"]
    guards = [allow(Role.MARKETER)]

    @post("/", status_code=201)
    async def create_code(
        self,
        campaign_id: FromPath[str],
        data: JSONBody[CodeCreate],
        session: DbSession,
        clock: ClockDep,
        principal: Caller,
        keyring: KeyringDep,
    ) -> CodeRead:
        """Create one (vanity) code; 409 ``code_taken`` when a live code reads the same.

        ``starts_at``/``expires_at`` narrow the campaign's window for this code;
        ``customer_id`` or ``customer_email`` binds it to one customer (anyone
        else is refused ``customer_not_eligible``)."""
        return await create(
            session,
            decode(Kind.CAMPAIGN, campaign_id),
            data,
            principal=principal,
            keyring=keyring,
            now=clock(),
        )

    @get("/")
    async def list_codes(
        self,
        campaign_id: FromPath[str],
        session: DbSession,
        affiliate_id: Annotated[str | None, QueryParameter(max_length=64)] = None,
        cursor: PageCursor = None,
        limit: PageLimit = DEFAULT_LIMIT,
    ) -> CodePage:
        campaign = await get_campaign(session, decode(Kind.CAMPAIGN, campaign_id))
        rows = await service.list_codes(
            session,
            campaign.id,
            affiliate_id=optional(Kind.AFFILIATE, affiliate_id),
            after_id=decode_cursor(cursor),
            limit=limit,
        )
        return CodePage(
            items=[code_read(c) for c in rows], next_cursor=next_cursor([c.id for c in rows], limit)
        )


class CodeController(Controller):
    path = "/v1/codes/{code:str}"
    tags = ["codes"]
    guards = [allow(Role.MARKETER)]

    @get("/")
    async def get_code(self, code: FromPath[str], session: DbSession) -> CodeRead:
        """A live code, found by any spelling (case, separators, O/0, I/L/1)."""
        return code_read(await service.find_code(session, code))

    @patch("/")
    async def patch_code(
        self,
        code: FromPath[str],
        data: JSONBody[CodePatch],
        session: DbSession,
        clock: ClockDep,
        principal: Caller,
    ) -> CodeRead:
        """Disable (``{"active": false}``) or re-enable a code, change its limit or its
        channel label."""
        return await change(session, code, data, principal=principal, now=clock())
