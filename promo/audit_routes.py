"""GET /v1/audit: the audit log, for admins (the log itself: promo.audit)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from litestar import get
from sqlalchemy import select

from promo.audit import audit_log
from promo.auth.guards import allow
from promo.deps import DbSession, PageCursor, PageLimit
from promo.ids import Kind, encode
from promo.schemas import DEFAULT_LIMIT, Schema, decode_cursor, next_cursor


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


@get("/v1/audit", tags=["operations"], guards=[allow()])
async def list_audit(
    session: DbSession, cursor: PageCursor = None, limit: PageLimit = DEFAULT_LIMIT
) -> AuditPage:
    """Administrative actions, oldest first."""
    query = select(audit_log).order_by(audit_log.c.id).limit(limit)
    after = decode_cursor(cursor)
    if after is not None:
        query = query.where(audit_log.c.id > after)
    rows = (await session.execute(query)).all()
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
