"""/v1/keys: API key management (admin).

``create``, ``revoke`` and ``key_page`` are what the routes do, as plain
functions: the console's key pages (promo.console.pages.admin) call them too,
so both edges apply the same rules and write the same audit lines.
"""

from __future__ import annotations

from datetime import datetime

from litestar import Controller, get, post
from litestar.params import FromPath, JSONBody
from sqlalchemy.ext.asyncio import AsyncSession

from promo import audit
from promo.auth import service
from promo.auth.guards import allow
from promo.auth.models import ApiKey
from promo.auth.roles import Principal
from promo.auth.schemas import KeyCreate, KeyCreated, KeyPage, KeyRead, key_fields, key_read
from promo.deps import Caller, ClockDep, DbSession, PageCursor, PageLimit
from promo.errors import NotFound
from promo.ids import Kind, decode, require
from promo.schemas import DEFAULT_LIMIT, decode_cursor, next_cursor


async def create(
    session: AsyncSession, data: KeyCreate, *, principal: Principal, now: datetime
) -> KeyCreated:
    """Create a key and audit it; the answer holds the key itself, this once."""
    affiliate_id = None
    if data.affiliate_id is not None:
        affiliate_id = decode(Kind.AFFILIATE, data.affiliate_id)
        if affiliate_id is None:
            raise NotFound("affiliate_not_found", "No such affiliate")
    key, plaintext = await service.create_key(
        session, role=data.role, affiliate_id=affiliate_id, name=data.name, now=now
    )
    created = KeyCreated(**key_fields(key), key=plaintext)  # type: ignore[arg-type]
    await audit.record(session, principal, "key.create", created.id, now=now, details=data)
    return created


async def key_page(session: AsyncSession, *, cursor: str | None, limit: int) -> KeyPage:
    keys = await service.list_keys(session, after_id=decode_cursor(cursor), limit=limit)
    return KeyPage(
        items=[key_read(k) for k in keys], next_cursor=next_cursor([k.id for k in keys], limit)
    )


async def revoke(
    session: AsyncSession, key_id: str, *, principal: Principal, now: datetime
) -> KeyRead:
    """Revoke a key (by its public id) and audit it."""
    key = await service.revoke_key(session, require(Kind.API_KEY, key_id), now=now)
    await audit.record(session, principal, "key.revoke", key_id, now=now)
    return key_read(key)


class KeyController(Controller):
    path = "/v1/keys"
    tags = ["keys"]
    guards = [allow()]

    @post("/", status_code=201)
    async def create_key(
        self, data: JSONBody[KeyCreate], session: DbSession, clock: ClockDep, principal: Caller
    ) -> KeyCreated:
        return await create(session, data, principal=principal, now=clock())

    @get("/")
    async def list_keys(
        self,
        session: DbSession,
        cursor: PageCursor = None,
        limit: PageLimit = DEFAULT_LIMIT,
    ) -> KeyPage:
        return await key_page(session, cursor=cursor, limit=limit)

    @post("/{key_id:str}/revoke", status_code=200)
    async def revoke_key(
        self, key_id: FromPath[str], session: DbSession, clock: ClockDep, principal: Caller
    ) -> KeyRead:
        return await revoke(session, key_id, principal=principal, now=clock())


@get("/v1/key", tags=["keys"])
async def current_key(principal: Caller, session: DbSession) -> KeyRead:
    """The API key making this request: its id, role and affiliate (any role)."""
    key = await session.get(ApiKey, principal.key_id)
    if key is None:  # revoked and deleted between authentication and now
        raise NotFound("key_not_found", "No such API key")
    return key_read(key)
