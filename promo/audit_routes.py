"""GET /v1/audit: the audit log, for admins (the log itself: promo.audit).

``audit_page`` is the route as a plain function: the console's audit page
(promo.console.pages.admin) reads the log through it, with the same filters.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from litestar import get
from litestar.params import QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from promo import audit
from promo.audit import Filters
from promo.auth.guards import allow
from promo.auth.roles import Role
from promo.deps import DbSession, PageCursor, PageLimit
from promo.ids import Kind, encode, optional
from promo.schemas import DEFAULT_LIMIT, Schema, decode_cursor, instant, next_cursor

Order = Literal["asc", "desc"]
Text = Annotated[str | None, QueryParameter(max_length=128)]


class AuditRead(Schema):
    id: int
    at: datetime
    key_id: str | None
    # The console account that acted (actor "console").
    user_id: str | None
    role: str
    actor: str
    action: str
    target: str | None
    details: dict[str, Any]


class AuditPage(Schema):
    items: list[AuditRead]
    next_cursor: str | None


def filters_of(
    *,
    action: str | None = None,
    actor: str | None = None,
    role: str | None = None,
    target: str | None = None,
    key_id: str | None = None,
    user_id: str | None = None,
    start: str | None = None,
    end: str | None = None,
) -> Filters:
    """The filters of GET /v1/audit from its query parameters (ids and instants as sent)."""
    return Filters(
        action=action,
        actor=actor,
        role=role,
        target=target,
        key_id=optional(Kind.API_KEY, key_id),
        user_id=optional(Kind.CONSOLE_USER, user_id),
        start=instant("from", start),
        end=instant("to", end),
    )


async def audit_page(
    session: AsyncSession,
    filters: Filters,
    *,
    cursor: str | None,
    limit: int,
    order: Order = "asc",
) -> AuditPage:
    rows = await audit.entries(
        session, filters, after_id=decode_cursor(cursor), limit=limit, newest_first=order == "desc"
    )
    return AuditPage(
        items=[
            AuditRead(
                id=row.id,
                at=row.at,
                key_id=encode(Kind.API_KEY, row.key_id) if row.key_id else None,
                user_id=encode(Kind.CONSOLE_USER, row.user_id) if row.user_id else None,
                role=row.role,
                actor=row.actor,
                action=row.action,
                target=row.target,
                details=row.details or {},
            )
            for row in rows
        ],
        next_cursor=next_cursor([row.id for row in rows], limit),
    )


@get("/v1/audit", tags=["operations"], guards=[allow()])
async def list_audit(
    session: DbSession,
    action: Text = None,
    actor: Annotated[
        Literal["api", "console", "cli"] | None,
        QueryParameter(description="api (a key), console (an account), cli (any OS user)"),
    ] = None,
    role: Annotated[Role | None, QueryParameter()] = None,
    target: Text = None,
    key_id: Annotated[str | None, QueryParameter(max_length=64)] = None,
    user_id: Annotated[str | None, QueryParameter(max_length=64)] = None,
    start: Annotated[
        str | None, QueryParameter(name="from", max_length=64, description="RFC 3339; at >= from")
    ] = None,
    end: Annotated[
        str | None, QueryParameter(name="to", max_length=64, description="RFC 3339; at < to")
    ] = None,
    order: Annotated[Order, QueryParameter(description="asc: oldest first; desc")] = "asc",
    cursor: PageCursor = None,
    limit: PageLimit = DEFAULT_LIMIT,
) -> AuditPage:
    """Administrative actions, oldest first (``order=desc``: newest first); each
    filter given narrows the list."""
    filters = filters_of(
        action=action,
        actor=actor,
        role=role.value if role else None,
        target=target,
        key_id=key_id,
        user_id=user_id,
        start=start,
        end=end,
    )
    return await audit_page(session, filters, cursor=cursor, limit=limit, order=order)
