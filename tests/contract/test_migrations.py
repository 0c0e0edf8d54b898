"""Migrations: they build the schema from nothing, take it all down again, and
agree with the models.

These tests are synchronous on purpose: alembic's env.py runs its own event
loop (``asyncio.run``), which cannot start inside a running one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from promo.db import migrate
from promo.db.engine import create_engine
from promo.db.models import metadata
from promo.settings import Settings
from tests.conftest import make_settings

T = TypeVar("T")
MODEL_TABLES = frozenset(metadata.tables)


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    if request.param == "sqlite":
        return make_settings(f"sqlite+aiosqlite:///{tmp_path / 'migrations.db'}")
    return make_settings(request.getfixturevalue("postgres_url"))


def run_sync(settings: Settings, work: Callable[[Connection], T]) -> T:
    """Run ``work`` on a sync connection to the database (in a short-lived loop)."""

    async def run() -> T:
        engine = create_engine(settings)
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(work)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def tables(settings: Settings) -> set[str]:
    return run_sync(settings, lambda c: set(inspect(c).get_table_names()))


def current_heads(settings: Settings) -> set[str]:
    return run_sync(settings, lambda c: set(MigrationContext.configure(c).get_current_heads()))


def leftover_objects(connection: Connection) -> dict[str, list[str]]:
    """What a downgrade to base may leave behind besides tables (PostgreSQL)."""
    queries = {
        "views": "SELECT viewname FROM pg_views WHERE schemaname = 'public'",
        "sequences": "SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'",
        "functions": "SELECT p.proname FROM pg_proc p "
        "JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public'",
        "types": "SELECT t.typname FROM pg_type t "
        "JOIN pg_namespace n ON n.oid = t.typnamespace "
        "WHERE n.nspname = 'public' AND t.typtype IN ('e', 'd', 'c') "
        "AND NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = t.typrelid AND c.relkind <> 'c')",
    }
    found = {kind: list(connection.scalars(text(sql))) for kind, sql in queries.items()}
    return {kind: names for kind, names in found.items() if names}


def head_revisions() -> set[str]:
    return set(ScriptDirectory.from_config(migrate.alembic_config()).get_heads())


def test_migration_history_has_a_single_head() -> None:
    heads = head_revisions()
    assert len(heads) == 1, (
        f"several alembic heads {sorted(heads)}: two migrations revise the same parent; "
        "rebase the newer one onto the other (or `alembic merge`)"
    )


def test_upgrade_builds_every_model_table_and_downgrade_removes_them_all(
    empty_database: Settings,
) -> None:
    settings = empty_database

    migrate.upgrade(settings, "head")
    assert tables(settings) == {*MODEL_TABLES, "alembic_version"}
    assert current_heads(settings) == head_revisions()

    migrate.downgrade(settings, "base")
    assert tables(settings) - {"alembic_version"} == set()
    assert current_heads(settings) == set()
    if settings.is_postgres:
        assert run_sync(settings, leftover_objects) == {}

    migrate.upgrade(settings, "head")
    assert tables(settings) == {*MODEL_TABLES, "alembic_version"}
    assert current_heads(settings) == head_revisions()


def _model_diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


def test_models_agree_with_migrations_on_postgresql(postgres_url: str) -> None:
    settings = make_settings(postgres_url)
    migrate.upgrade(settings, "head")

    diff = run_sync(settings, _model_diff)

    assert diff == [], (
        "the models differ from the schema the migrations build; add a migration "
        "(alembic revision --autogenerate) or fix the models:\n" + "\n".join(map(repr, diff))
    )
