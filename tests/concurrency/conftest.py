"""A real server with two worker processes over a committed database, per backend.

Concurrency is the database's job, so it is tested with real processes,
real connections and real commits: no outer transaction here. Tests share
one server per backend and isolate themselves by creating their own
campaigns, codes, orders and customers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from promo.auth.roles import Role
from promo.clock import utc_now
from promo.db import migrate
from promo.db.engine import create_engine, create_sessionmaker
from promo.settings import Settings
from tests.conftest import TEST_SECRET, make_settings
from tests.support.factories import bearer, make_key
from tests.support.postgres import PostgresServer
from tests.support.server import ServerProcess, start_server


@dataclass(frozen=True)
class Live:
    """The running service and what tests need to drive and inspect it."""

    server: ServerProcess
    settings: Settings
    engine: AsyncEngine
    headers: dict[Role, dict[str, str]]

    @property
    def url(self) -> str:
        return self.server.url


@pytest.fixture(scope="session")
def live_settings(backend: str, request: pytest.FixtureRequest, sqlite_dir: Path) -> Settings:
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{sqlite_dir / 'live.db'}"
    else:
        server: PostgresServer = request.getfixturevalue("postgres")
        url = server.create_database("promo_live")
    settings = make_settings(url)
    migrate.upgrade(settings)
    return settings


@pytest.fixture(scope="session")
def live_server(live_settings: Settings) -> Iterator[ServerProcess]:
    server = start_server(live_settings.database_url, workers=2, secret=TEST_SECRET)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
async def live(live_settings: Settings, live_server: ServerProcess) -> AsyncIterator[Live]:
    engine = create_engine(live_settings)
    async with create_sessionmaker(engine)() as session, session.begin():
        headers = {
            role: bearer(await make_key(session, role, now=utc_now()))
            for role in (Role.MARKETER, Role.CHECKOUT, Role.ADMIN)
        }
    yield Live(server=live_server, settings=live_settings, engine=engine, headers=headers)
    await engine.dispose()


@pytest.fixture
async def http(live: Live) -> AsyncIterator[httpx.AsyncClient]:
    limits = httpx.Limits(max_connections=256, max_keepalive_connections=256)
    async with httpx.AsyncClient(base_url=live.url, limits=limits, timeout=60) as client:
        yield client
