"""/v1/affiliates/{id}/codes (marketer), /v1/me/codes (affiliate): dedicated codes, aliases.

They live in the codes domain, beside what they call: codes sit above
affiliates, whose routes therefore never import codes. Two edges, one
service call (``promo.codes.dedicated.grant_dedicated_code``) and one way of
answering it (``_granted``), which also writes a new alias to the audit log
with who asked: the marketer's or the affiliate's key.

An affiliate asking for an alias learns whether some live code reads the
same (``alias_taken``), so under /v1/me each such answer counts as a failed
guess against the calling key in the app's throttle, as an unknown code at
checkout does; past the budget the answer is 429. The throttle belongs to the
checkout, above the catalogue: this module names only the two calls it makes
(``GuessThrottle``) and takes the app's object from its state.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Protocol

from litestar import Controller, Response, get, patch, post
from litestar.datastructures import State
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, JSONBody, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from promo import audit
from promo.affiliates.service import own_affiliate_id
from promo.auth.guards import allow
from promo.auth.roles import Principal, Role
from promo.clock import Clock
from promo.codes import dedicated, service
from promo.codes.routes import code_read
from promo.codes.schemas import (
    CodePage,
    CodePatch,
    CodeRead,
    DedicatedCodeCreate,
    DedicatedCodeRead,
    MyCodePatch,
)
from promo.deps import Caller, ClockDep, DbSession, PageCursor, PageLimit
from promo.errors import Conflict, NotFound
from promo.ids import Kind, decode, encode, require
from promo.schemas import DEFAULT_LIMIT, decode_cursor, next_cursor
from promo.settings import Settings

ALREADY_GRANTED = {
    200: ResponseSpec(
        data_container=DedicatedCodeRead,
        description="The code was granted before and nothing new was created",
    )
}


class GuessAttempt(Protocol):
    async def failed(self) -> None: ...

    async def succeeded(self) -> None: ...


class GuessThrottle(Protocol):
    """What is used of the app's throttle (``state.throttle``)."""

    async def begin(self, identities: dict[str, str | None]) -> GuessAttempt: ...


def _campaign_id(public_id: str) -> int | None:
    return decode(Kind.CAMPAIGN, public_id)


async def _granted(
    session: AsyncSession,
    principal: Principal,
    affiliate_id: int,
    grant: dedicated.Grant,
    *,
    clock: ClockDep,
) -> Response[DedicatedCodeRead]:
    """201 when this request stored a code, 200 when it only found the earlier ones;
    a new alias is audited."""
    if grant.alias is not None and grant.alias_created:
        await audit.record(
            session,
            principal,
            "code.alias",
            grant.alias.code,
            now=clock(),
            details={
                "campaign_id": encode(Kind.CAMPAIGN, grant.alias.campaign_id),
                "affiliate_id": encode(Kind.AFFILIATE, affiliate_id),
                "alias": grant.alias.code,
            },
        )
    body = DedicatedCodeRead(
        code=code_read(grant.code), alias=code_read(grant.alias) if grant.alias else None
    )
    return Response(body, status_code=201 if grant.created else 200)


async def my_codes(
    session: AsyncSession,
    principal: Principal,
    *,
    campaign_id: str | None,
    cursor: str | None,
    limit: int,
) -> CodePage:
    """One page of the calling affiliate's live codes: GET /v1/me/codes and the console."""
    if campaign_id is not None and _campaign_id(campaign_id) is None:
        raise NotFound("campaign_not_found", "No such campaign")
    rows = await dedicated.list_affiliate_codes(
        session,
        own_affiliate_id(principal),
        campaign_id=_campaign_id(campaign_id) if campaign_id is not None else None,
        after_id=decode_cursor(cursor),
        limit=limit,
    )
    return CodePage(
        items=[code_read(c) for c in rows], next_cursor=next_cursor([c.id for c in rows], limit)
    )


async def grant_own_code(
    session: AsyncSession,
    principal: Principal,
    data: DedicatedCodeCreate,
    *,
    state: State,
    clock: Clock,
) -> Response[DedicatedCodeRead]:
    """The calling affiliate asks for its code (and an alias): POST /v1/me/codes and
    the console's form, with the same throttle of alias guesses and audit."""
    settings: Settings = state.settings
    throttle: GuessThrottle = state.throttle
    affiliate = own_affiliate_id(principal)
    # The affiliate's own budget (refusing: one partner, not a store's shoppers).
    who: dict[str, str | None] = {"affiliate": str(principal.affiliate_id)}
    attempt = await throttle.begin(who) if data.alias else None
    try:
        grant = await dedicated.grant_dedicated_code(
            session,
            secret=settings.secret,
            affiliate_id=affiliate,
            campaign_id=_campaign_id(data.campaign_id),
            alias=data.alias,
            self_service=True,
            now=clock(),
            channel=data.channel,
        )
    except Conflict as refused:
        if attempt is not None and refused.code == "alias_taken":
            await attempt.failed()
        raise
    if attempt is not None:
        await attempt.succeeded()
    return await _granted(session, principal, affiliate, grant, clock=clock)


async def relabel_own_code(
    session: AsyncSession, principal: Principal, code: str, data: MyCodePatch, *, now: datetime
) -> CodeRead:
    """Set or remove the channel label of one of the calling affiliate's codes
    (another's is 404), audited: PATCH /v1/me/codes/{code} and the console."""
    found = await service.find_own_code(session, code, own_affiliate_id(principal))
    patched = await service.patch_code(session, found, CodePatch(channel=data.channel))
    await audit.record(session, principal, "code.update", patched.code, now=now, details=data)
    return code_read(patched)


class AffiliateCodeController(Controller):
    path = "/v1/affiliates/{affiliate_id:str}/codes"
    tags = ["affiliates"]
    guards = [allow(Role.MARKETER)]

    @post("/", status_code=201, responses=ALREADY_GRANTED)
    async def grant_code(
        self,
        affiliate_id: FromPath[str],
        data: JSONBody[DedicatedCodeCreate],
        session: DbSession,
        clock: ClockDep,
        state: State,
        principal: Caller,
    ) -> Response[DedicatedCodeRead]:
        """The affiliate's dedicated code for a campaign (201 first, 200 after), and an alias."""
        settings: Settings = state.settings
        affiliate = require(Kind.AFFILIATE, affiliate_id)
        grant = await dedicated.grant_dedicated_code(
            session,
            secret=settings.secret,
            affiliate_id=affiliate,
            campaign_id=_campaign_id(data.campaign_id),
            alias=data.alias,
            self_service=False,
            now=clock(),
            channel=data.channel,
        )
        await audit.record(
            session, principal, "affiliate.code", affiliate_id, now=clock(), details=data
        )
        return await _granted(session, principal, affiliate, grant, clock=clock)


class MyCodeController(Controller):
    path = "/v1/me/codes"
    tags = ["me"]
    guards = [allow(Role.AFFILIATE)]

    @get("/")
    async def list_my_codes(
        self,
        principal: Caller,
        session: DbSession,
        campaign_id: Annotated[str | None, QueryParameter(max_length=64)] = None,
        cursor: PageCursor = None,
        limit: PageLimit = DEFAULT_LIMIT,
    ) -> CodePage:
        """The calling affiliate's live codes (dedicated, aliases, assigned), oldest first."""
        return await my_codes(
            session, principal, campaign_id=campaign_id, cursor=cursor, limit=limit
        )

    @post("/", status_code=201, responses=ALREADY_GRANTED)
    async def grant_my_code(
        self,
        principal: Caller,
        data: JSONBody[DedicatedCodeCreate],
        session: DbSession,
        clock: ClockDep,
        state: State,
    ) -> Response[DedicatedCodeRead]:
        """Ask for one's own code for a campaign open to affiliates (403 ``campaign_not_open``),
        and an alias where the campaign allows them (``alias_taken`` counts as a failed guess)."""
        return await grant_own_code(session, principal, data, state=state, clock=clock)

    @patch("/{code:str}")
    async def patch_my_code(
        self,
        code: FromPath[str],
        data: JSONBody[MyCodePatch],
        principal: Caller,
        session: DbSession,
        clock: ClockDep,
    ) -> CodeRead:
        """Label one of one's own live codes with a channel (null removes it); any
        other code is 404 ``code_not_found``."""
        return await relabel_own_code(session, principal, code, data, now=clock())
