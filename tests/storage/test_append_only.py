"""The ledger's tables are append-only in the database itself.

Triggers (migration 0004) refuse UPDATE, DELETE and, on PostgreSQL, TRUNCATE
on ledger_entries, payouts and payout_items, even for the superuser the
tests (and possibly the service) connect as, whom privileges would not stop.
INSERT still works. Rows are committed first: row-level triggers only fire
for rows that exist.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from promo.clock import utc_now
from promo.db.engine import create_engine, create_sessionmaker
from promo.ledger import entries as ledger
from promo.ledger.models import Payout, PayoutItem
from promo.settings import Settings
from tests.support.databases import committed_database
from tests.support.factories import make_affiliate

TABLES = ("ledger_entries", "payouts", "payout_items")
UPDATES = {
    "ledger_entries": "UPDATE ledger_entries SET commission = commission + 1, note = 'forged'",
    "payouts": "UPDATE payouts SET amount = amount + 1",
    "payout_items": "UPDATE payout_items SET payout_id = payout_id",
}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def committed(request: pytest.FixtureRequest, sqlite_dir: Path) -> Iterator[Settings]:
    with committed_database(request, sqlite_dir, "promo_append_only") as settings:
        yield settings


@pytest.fixture(scope="module")
async def ledger_engine(committed: Settings) -> AsyncIterator[AsyncEngine]:
    """An engine on a database holding one committed row in each append-only table."""
    engine = create_engine(committed)
    await append_paid_entry(engine)
    yield engine
    await engine.dispose()


async def append_paid_entry(engine: AsyncEngine) -> None:
    """One ledger entry, a payout and the payout item covering it; committed."""
    now = utc_now()
    async with create_sessionmaker(engine)() as session, session.begin():
        affiliate = await make_affiliate(session, now=now, name=f"Ledger{uuid.uuid4().hex[:6]}")
        entry_id = await ledger.append(
            session,
            kind="adjustment",
            now=now,
            currency="EUR",
            affiliate_id=affiliate.id,
            commission=1000,
            note="original",
        )
        payout_id = await session.scalar(
            insert(Payout)
            .values(
                affiliate_id=affiliate.id, currency="EUR", amount=1000, as_of=now, created_at=now
            )
            .returning(Payout.id)
        )
        await session.execute(insert(PayoutItem).values(entry_id=entry_id, payout_id=payout_id))


async def snapshot(engine: AsyncEngine) -> dict[str, list[tuple[object, ...]]]:
    """Every row of the three tables, in a stable order."""
    async with engine.connect() as connection:
        return {
            table: [
                tuple(row)
                for row in await connection.execute(text(f"SELECT * FROM {table} ORDER BY 1"))  # noqa: S608
            ]
            for table in TABLES
        }


async def refused(engine: AsyncEngine, statement: str) -> DBAPIError:
    before = await snapshot(engine)
    with pytest.raises(DBAPIError) as raised:
        async with engine.begin() as connection:
            await connection.execute(text(statement))
    assert await snapshot(engine) == before
    return raised.value


def assert_append_only_error(error: DBAPIError, dialect: str) -> None:
    assert "append-only" in str(error.orig), error
    if dialect == "postgresql":
        assert getattr(error.orig, "sqlstate", None) == "P0001", error


@pytest.mark.parametrize("table", TABLES)
async def test_update_is_refused(ledger_engine: AsyncEngine, table: str) -> None:
    error = await refused(ledger_engine, UPDATES[table])
    assert_append_only_error(error, ledger_engine.dialect.name)


@pytest.mark.parametrize("table", TABLES)
async def test_delete_is_refused(ledger_engine: AsyncEngine, table: str) -> None:
    error = await refused(ledger_engine, f"DELETE FROM {table}")  # noqa: S608
    assert_append_only_error(error, ledger_engine.dialect.name)


ON_POSTGRESQL = pytest.mark.parametrize("committed", ["postgresql"], indirect=True)


@ON_POSTGRESQL
@pytest.mark.parametrize(
    "statement",
    [
        # CASCADE gets past the foreign keys, so only the trigger can stop it.
        "TRUNCATE ledger_entries CASCADE",
        "TRUNCATE payouts CASCADE",
        "TRUNCATE payout_items",
        "TRUNCATE ledger_entries, payouts, payout_items",
    ],
)
async def test_truncate_is_refused_on_postgresql(
    ledger_engine: AsyncEngine, statement: str
) -> None:
    error = await refused(ledger_engine, statement)
    assert_append_only_error(error, "postgresql")


@ON_POSTGRESQL
async def test_refusals_hold_for_the_superuser_the_tests_connect_as(
    ledger_engine: AsyncEngine,
) -> None:
    async with ledger_engine.connect() as connection:
        superuser = await connection.scalar(
            text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        )
    assert superuser is True
    error = await refused(ledger_engine, UPDATES["ledger_entries"])
    assert_append_only_error(error, "postgresql")


async def test_insert_still_appends(ledger_engine: AsyncEngine) -> None:
    async def counts() -> list[int]:
        async with ledger_engine.connect() as connection:
            return [
                int(await connection.scalar(select(func.count()).select_from(text(table))) or 0)
                for table in TABLES
            ]

    before = await counts()
    await append_paid_entry(ledger_engine)
    assert await counts() == [n + 1 for n in before]
