"""Liveness and readiness probes (no authentication)."""

from __future__ import annotations

import msgspec
from litestar import Controller, Response, get
from litestar.datastructures import State
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker


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
        # Through the same session factory as requests: this checks the path
        # requests take, pool included.
        sessionmaker: async_sessionmaker[AsyncSession] = state.sessionmaker
        try:
            async with sessionmaker() as session:
                await session.execute(text("SELECT 1"))
        except (SQLAlchemyError, OSError):
            return Response(Health(status="unavailable", database="unreachable"), status_code=503)
        return Response(Health(status="ok", database="ok"))
