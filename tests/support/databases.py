"""Fresh, migrated databases that a test module commits into (no outer transaction)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from promo.db import migrate
from promo.settings import Settings
from tests.conftest import make_settings
from tests.support.postgres import PostgresServer


@contextmanager
def committed_database(
    request: pytest.FixtureRequest, sqlite_dir: Path, prefix: str
) -> Iterator[Settings]:
    """A new database of the backend ``request.param`` names ("sqlite" or
    "postgresql", the suite's throwaway server), migrated; dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    if request.param == "sqlite":
        settings = make_settings(f"sqlite+aiosqlite:///{sqlite_dir / name}.db")
        migrate.upgrade(settings)
        yield settings
        return
    server: PostgresServer = request.getfixturevalue("postgres")
    settings = make_settings(server.create_database(name))
    migrate.upgrade(settings)
    try:
        yield settings
    finally:
        server.drop_database(name)
