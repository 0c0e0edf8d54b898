"""Liveness and readiness probes (no authentication).

Readiness runs one query through each pool requests use (SQLAlchemy's, and
the checkout's asyncpg pool on PostgreSQL), so that it turns 503 when requests
would, and back to 200 as soon as they would succeed again: both pools drop
the connections a database restart closed and reconnect on their own.
"""

from __future__ import annotations

import msgspec
from litestar import Controller, Response, get
from litestar.datastructures import State
from sqlalchemy import literal, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from promo.db.autocommit import Autocommit
from promo.errors import DATABASE_RETRY_AFTER_SECONDS, is_database_unavailable

PROBE = select(literal(1).label("ok"))


class Health(msgspec.Struct):
    status: str
    database: str | None = None


class HealthController(Controller):
    path = "/health"
    tags = ["operations"]

    @get("/")
    async def live(self) -> Health:
        return Health(status="ok")

    @get("/ready")
    async def ready(self, state: State) -> Response[Health]:
        sessionmaker: async_sessionmaker[AsyncSession] = state.sessionmaker
        reads: Autocommit = state.reads
        try:
            async with sessionmaker() as session:
                await session.execute(text("SELECT 1"))
            await reads.first(PROBE, {})
        except Exception as exc:
            if not is_database_unavailable(exc):
                raise
            return Response(
                Health(status="unavailable", database="unreachable"),
                status_code=503,
                headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
            )
        return Response(Health(status="ok", database="ok"))
