"""Alembic environment: async, the same migrations for PostgreSQL and SQLite.

The database comes, in order, from a connection handed over by the caller
(``config.attributes["connection"]``), a URL set by ``promo db upgrade``
(``config.attributes["database_url"]``), or PROMO_DATABASE_URL. A migration
that hashes personal data (0010) takes the PII keyring the same way: handed
over by ``promo.db.migrate.upgrade`` (``config.attributes["keyring"]``), or
PROMO_PII_KEY and PROMO_PII_RETIRED_KEYS (``promo.db.migrate.keyring_of``).
"""

from __future__ import annotations

import asyncio
import os
from typing import Any, Literal

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from promo.db.metadata import UtcDateTime
from promo.db.models import metadata
from promo.settings import load_settings

config = context.config


def _database_url() -> str:
    url = config.attributes.get("database_url")
    return str(url) if url else load_settings(os.environ).database_url


def _render_item(type_: str, obj: Any, autogen_context: Any) -> str | Literal[False]:
    """Write our column types as plain SQLAlchemy types into migration scripts."""
    if type_ == "type" and isinstance(obj, UtcDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_item=_render_item,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        transaction_per_migration=False,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    engine = create_async_engine(_database_url())
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await engine.dispose()


def run_migrations_offline() -> None:
    context.configure(
        url=_database_url(),
        target_metadata=metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
elif (connection := config.attributes.get("connection")) is not None:
    _run(connection)
else:
    asyncio.run(_run_async())
