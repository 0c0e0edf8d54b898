"""Fixtures shared by the whole suite.

- ``postgres``: one throwaway PostgreSQL server for the session (missing
  binaries skip PostgreSQL tests locally, and fail the run when CI=true).
- ``backend``: every test that touches storage runs on SQLite and PostgreSQL.
  Migrations run once per backend; each test runs inside an outer transaction
  that is rolled back, so tests never see each other's rows.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from litestar import Litestar
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from promo import job_kinds
from promo.app import build_sign_in_throttle, build_throttle, create_app
from promo.db import migrate
from promo.db.autocommit import SessionAutocommit
from promo.db.engine import create_engine, create_sessionmaker
from promo.jobs.inprocess import AppJobs
from promo.reports.counting import ValidationCounter
from promo.settings import Settings
from tests.support.clock import FrozenClock
from tests.support.postgres import PostgresServer, PostgresUnavailable, start_postgres

# No customer e-mail or id the tests use is kept or shown in clear (issue 15).
pytest_plugins = ["tests.support.privacy_scan"]


async def privacy_snapshot(connection: AsyncConnection) -> None:
    """Hand the test's rows to the privacy scan (once per test; nothing when it is off)."""
    from tests.support import privacy_scan  # imported by pytest_plugins, assertions rewritten

    await privacy_scan.snapshot(connection)


TEST_SECRET = "test-secret-0123456789abcdef"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def running_postgres() -> Iterator[PostgresServer]:
    """A throwaway PostgreSQL for a fixture to yield; missing binaries fail in CI."""
    try:
        server = start_postgres()
    except PostgresUnavailable as exc:
        if IN_CI:
            pytest.fail(f"PostgreSQL is required in CI: {exc}")
        pytest.skip(f"PostgreSQL not available: {exc}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(autouse=True, scope="session")
def cheap_password_hashing() -> Iterator[None]:
    """argon2id at its lowest cost for the suite's in-process apps: a password
    hash costs ~300 ms by design, and hundreds of tests sign someone in. The
    same algorithm and code path; servers the suite starts as processes
    (tests/browser, tests/cli) hash at the production cost."""
    from argon2 import PasswordHasher

    from promo.people import passwords

    kept = passwords._hasher, passwords._DUMMY
    passwords._hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    passwords._DUMMY = passwords._hasher.hash("promo: no such account")
    yield
    passwords._hasher, passwords._DUMMY = kept


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    yield from running_postgres()


@pytest.fixture(scope="session")
def sqlite_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="promo-sqlite-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def make_settings(database_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": database_url,
        "secret": TEST_SECRET,
        "log_json": False,
        # Webhooks go to the tests' own receivers on 127.0.0.1 (tests.support.receiver).
        "webhook_schemes": "http,https",
        "webhook_allowed_hosts": "127.0.0.1",
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def settings(backend: str, request: pytest.FixtureRequest, sqlite_dir: Path) -> Settings:
    """Settings of a migrated database for the API tests of one backend."""
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{sqlite_dir / 'api.db'}"
    else:
        server: PostgresServer = request.getfixturevalue("postgres")
        url = server.create_database("promo_api")
    settings = make_settings(url)
    migrate.upgrade(settings)
    return settings


@pytest.fixture(scope="session")
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(settings)
    yield engine
    await engine.dispose()


@pytest.fixture
async def connection(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """One connection per test, inside a transaction rolled back at the end."""
    async with engine.connect() as connection:
        transaction = await connection.begin()
        try:
            yield connection
            await privacy_snapshot(connection)
        finally:
            await transaction.rollback()


@pytest.fixture
async def db(connection: AsyncConnection) -> AsyncIterator[AsyncSession]:
    """A session on the test's connection, to arrange data; changes are flushed, not committed."""
    async with create_sessionmaker(connection)() as session:
        yield session
        # Before its savepoint is rolled back: the test's rows were written inside it.
        await privacy_snapshot(connection)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture(scope="session")
def shared_app(settings: Settings, engine: AsyncEngine) -> Litestar:
    """One app per backend: building one costs ~150 ms, too much for every test."""
    return create_app(settings, engine=engine)


@pytest.fixture
def app(
    shared_app: Litestar, settings: Settings, connection: AsyncConnection, clock: FrozenClock
) -> Litestar:
    """The shared app, pointed at this test's connection and clock, with fresh
    throttle and validation counters: what create_app(settings, connection=...,
    clock=...) gives."""
    shared_app.state.sessionmaker = create_sessionmaker(connection)
    single = SessionAutocommit(create_sessionmaker(connection), connection.dialect.name)
    shared_app.state.reads = shared_app.state.writes = single
    shared_app.state.clock = clock
    shared_app.state.throttle = build_throttle(settings)
    shared_app.state.sign_in_throttle = build_sign_in_throttle(settings, shared_app.state.throttle)
    # Jobs run in full on the test's connection right after the request queued them.
    shared_app.state.jobs = AppJobs(job_kinds.worker(settings, connection, clock), in_process=False)
    shared_app.state.validation_counts = ValidationCounter()
    return shared_app


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    """HTTP client on the app in this event loop (the test's connection lives here)."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://promo.test") as client:
        yield client
