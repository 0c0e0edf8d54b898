"""Engine and session factory for postgresql+asyncpg and sqlite+aiosqlite.

SQLite runs every transaction as ``BEGIN IMMEDIATE`` with a busy timeout:
writers are serialised across threads *and* processes, which is what makes
usage counters correct on the embedded default. WAL keeps readers unblocked.

PostgreSQL connections that the server closed (a restart) are dropped when they
are checked out, with the rest of the pool, instead of failing a request: asyncpg
already knows a connection is closed, so this costs no round trip (unlike
``pool_pre_ping``). A connection that dies under a statement is seen as a
disconnect by the dialect, which invalidates the pool the same way; that
request gets 503 (promo.errors) and the next ones reconnect.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.exc import InvalidatePoolError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.ext.asyncio import AsyncSession as AsyncSession

from promo.settings import Settings

SQLITE_BUSY_TIMEOUT_MS = 30_000


def create_engine(settings: Settings, **overrides: Any) -> AsyncEngine:
    if settings.is_sqlite:
        engine = create_async_engine(
            settings.database_url,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
            **overrides,
        )
        _make_sqlite_transactions_immediate(engine)
        return engine
    options: dict[str, Any] = {
        "pool_size": settings.db_pool_size,
        "max_overflow": settings.db_pool_size,
        "pool_pre_ping": False,
        "connect_args": {"timeout": settings.db_connect_timeout_seconds},
    }
    options.update(overrides)
    engine = create_async_engine(settings.database_url, **options)
    _drop_closed_connections(engine)
    return engine


def _drop_closed_connections(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "checkout")
    def _on_checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        if dbapi_connection.driver_connection.is_closed():
            # Closed by the server: it restarted or cut us off, so every
            # connection older than this one is as dead. SQLAlchemy invalidates
            # them and connects afresh (which fails, classified, if it is down).
            raise InvalidatePoolError("connection closed by the server")


def _make_sqlite_transactions_immediate(engine: AsyncEngine) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the sqlite3 module so that the
        # "begin" hook below decides how transactions start.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Reads (exports, validations) take a deferred snapshot that blocks no writer.
        read_only = connection.get_execution_options().get("promo_read_only", False)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def create_read_sessionmaker(bind: Any) -> async_sessionmaker[AsyncSession]:
    """Sessions for reads that need no write lock (promo.db.autocommit on SQLite).

    On an engine they begin a deferred transaction on SQLite, which blocks no
    writer (autocommit there would hand transaction control back to the sqlite3
    module when the connection returns to the pool). Bound to one connection
    (tests), they join its transaction like any session.
    """
    if isinstance(bind, AsyncEngine):
        bind = bind.execution_options(promo_read_only=True)
    return create_sessionmaker(bind)


def create_sessionmaker(bind: Any) -> async_sessionmaker[AsyncSession]:
    """Sessions for an engine, or for one connection in tests (joined via savepoints)."""
    return async_sessionmaker(
        bind=bind,
        expire_on_commit=False,
        join_transaction_mode="create_savepoint",
    )
