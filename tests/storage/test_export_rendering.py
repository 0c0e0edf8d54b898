"""PostgreSQL renders the ledger export itself; it must write exactly the bytes
the Python renderer (used on SQLite) writes for the same rows.

Hostile free text (CSV and JSON specials, control characters, non-ASCII),
every currency exponent, extreme amounts, whole-second and fractional
instants, and ids past 2**48, where the public id grows a high part.
"""

from __future__ import annotations

import asyncio
import csv
import io
import random
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql.expression import Values, column, values

from promo.conversions.models import Conversion
from promo.db.engine import create_engine, create_sessionmaker
from promo.db.public_ids import public_id
from promo.ids import Kind, encode
from promo.ledger import export_sql
from promo.ledger.export import COLUMNS, FORMATS, export_row, stream_ledger
from promo.ledger.export_streams import exported_snapshot, joined, stream_rendered
from promo.ledger.models import LedgerEntry, Payout, PayoutItem
from promo.ledger.service import Filters, entries, entries_with_payout
from promo.plans.models import CommissionPlan
from promo.settings import Settings
from tests.support.databases import committed_database
from tests.support.factories import make_affiliate

HOSTILE = [
    None,
    "",
    "plain",
    "comma, inside",
    'a "quoted" word',
    "line\nbreak",
    "carriage\rreturn",
    "crlf\r\nend",
    "\ttab and \\ backslash",
    "control \x01 \x1f \x7f",
    "unicode é ✓ 😀 \u2028",
    " leading and trailing ",
    '"',
    ",",
    # What a spreadsheet would run as a formula (OWASP CSV injection).
    "=1+1",
    "+SUM(A1)",
    "-2",
    "@cmd",
    "\tTAB first",
    "\rCR first",
    "'already quoted",
]
CURRENCIES = ["EUR", "JPY", "BHD", "CLF", "USD", "KWD"]
AMOUNTS = [0, 1, -1, 5, 99, -500, 1999, 10**12 + 7, -(2**62), 2**63 - 1]
BIG_IDS = [2**48 - 1, 2**48, 2**48 + 12345, 2**62]
NOW = datetime(2026, 11, 26, 18, 0, tzinfo=UTC)
LATE_ENTRY = {"kind": "adjustment", "currency": "EUR", "note": "committed mid-export"}


@pytest.fixture(scope="module", params=["postgresql"])
def database(request: pytest.FixtureRequest, sqlite_dir: Path) -> Iterator[Settings]:
    with committed_database(request, sqlite_dir, "promo_render") as settings:
        yield settings


@pytest.fixture(scope="module")
async def engine(database: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database)
    await seed(engine)
    yield engine
    await engine.dispose()


def random_text(rng: random.Random) -> str:
    alphabet = "ab ,\"\r\n\t\\é✓\x01\x1f\x7f=+-@'"
    return "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 12)))


RATES = [None, Decimal(0), Decimal(5), Decimal("12.5"), Decimal(100)]


async def seed(engine: AsyncEngine) -> None:
    """300 entries of random hostile values, some paid by a payout, and a few
    entries whose ids are past 2**48."""
    rng = random.Random(9)
    base = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    async with create_sessionmaker(engine)() as session, session.begin():
        affiliate = (await make_affiliate(session, now=base)).id
        payout = Payout(
            affiliate_id=affiliate, currency="EUR", amount=1, as_of=base, created_at=base
        )
        plan = CommissionPlan(
            name="p",
            currency="EUR",
            timezone="UTC",
            revision=12,
            terms={},
            created_at=base,
            updated_at=base,
        )
        session.add_all([payout, plan])
        await session.flush()
        conversion = Conversion(
            kind="lead",
            external_id="x",
            affiliate_id=affiliate,
            currency="EUR",
            commission=1,
            plan_id=plan.id,
            plan_revision=1,
            available_at=base,
            created_at=base,
        )
        session.add(conversion)
        await session.flush()
        payout_id, plan_id, conversion_id = payout.id, plan.id, conversion.id
    rows: list[dict[str, Any]] = []
    for n in range(300):
        rows.append(
            {
                "created_at": base + timedelta(microseconds=rng.choice([0, 1, 123456, 999999])),
                "kind": rng.choice(["redemption", "refund", "adjustment", "payout"]),
                "order_id": rng.choice([None, "", "o-1", "o,2", random_text(rng)]),
                "code": rng.choice([None, "ANNA10", 'we"ird']),
                "affiliate_id": rng.choice([None, affiliate]),
                "currency": CURRENCIES[n % len(CURRENCIES)],
                "order_amount": rng.choice(AMOUNTS),
                "discount": rng.choice(AMOUNTS),
                "commission": rng.choice(AMOUNTS),
                "available_at": base + timedelta(days=rng.randrange(0, 40), seconds=n),
                "payout_id": rng.choice([None, payout_id]),
                "note": HOSTILE[n % len(HOSTILE)] if n < 100 else random_text(rng),
                "plan_id": rng.choice([None, plan_id]),
                "plan_revision": rng.choice([None, 1, 12]),
                "rate": rng.choice(
                    [None, Decimal("0"), Decimal("5"), Decimal("12.5"), Decimal(100)]
                ),
                "conversion_id": rng.choice([None, conversion_id]),
            }
        )
    big = [{**rows[i], "id": key, "note": f"big {key}"} for i, key in enumerate(BIG_IDS)]
    async with engine.begin() as connection:
        ids = await connection.execute(insert(LedgerEntry).returning(LedgerEntry.id), rows)
        paid = [entry for (entry,) in ids][::7]
        await connection.execute(
            insert(PayoutItem), [{"entry_id": entry, "payout_id": payout_id} for entry in paid]
        )
        await connection.execute(insert(LedgerEntry), big)


async def python_rendering(engine: AsyncEngine, fmt: str) -> bytes:
    """The export as the Python renderer writes it (the SQLite path)."""
    _, render = FORMATS[fmt]
    async with engine.connect() as connection:
        rows = (await connection.execute(entries_with_payout().order_by(entries.c.id))).all()
    return render([export_row(row) for row in rows], True)


async def database_rendering(engine: AsyncEngine, fmt: str, filters: Filters) -> bytes:
    return b"".join([chunk async for chunk in stream_ledger(engine, filters, fmt)])


@pytest.mark.parametrize("fmt", sorted(FORMATS))
async def test_postgres_writes_the_bytes_python_writes(engine: AsyncEngine, fmt: str) -> None:
    expected = await python_rendering(engine, fmt)
    assert expected.count(b"big ") == len(BIG_IDS)
    assert await database_rendering(engine, fmt, Filters()) == expected


async def test_filters_apply_to_every_chunk(engine: AsyncEngine) -> None:
    everything = (await database_rendering(engine, "jsonl", Filters())).splitlines()
    refunds = (await database_rendering(engine, "jsonl", Filters(kind="refund"))).splitlines()
    assert refunds == [line for line in everything if b'"kind":"refund"' in line]
    assert 0 < len(refunds) < len(everything)


async def test_sql_public_ids_equal_the_python_ones(engine: AsyncEngine) -> None:
    rng = random.Random(48)
    keys = [0, 1, 2, 255, 2**24, 2**48 - 1, 2**48, 2**63 - 1]
    keys += [rng.randrange(2**48) for _ in range(500)] + [rng.randrange(2**63) for _ in range(100)]
    numbers: Values = values(column("key"), name="numbers").data([(k,) for k in keys])
    async with engine.connect() as connection:
        for kind in Kind:
            rendered = await connection.execute(
                select(numbers.c.key, public_id(kind, numbers.c.key.cast(entries.c.id.type)))
            )
            assert {key: text for key, text in rendered} == {k: encode(kind, k) for k in keys}


@pytest.mark.parametrize("streams", [1, 2, 3])
async def test_small_chunks_on_several_connections_keep_id_order(
    engine: AsyncEngine, streams: int
) -> None:
    """Chunks of 7 entries (the ids past 2**48 make the last ones sparse), rendered
    by one to three connections, join into the one-query rendering."""
    expected = await python_rendering(engine, "csv")
    rows = expected.partition(b"\r\n")[2]  # without the header
    chunks = [
        chunk
        async for chunk in stream_rendered(engine, Filters(), "csv", streams=streams, chunk_rows=7)
    ]
    assert len(chunks) > 40
    assert b"".join(chunks) == rows


async def test_joined_connections_see_the_exported_snapshot(engine: AsyncEngine) -> None:
    """What the export's second connection sees is the first one's snapshot, not
    what was committed between the two."""
    count = select(func.count()).select_from(entries)
    async with AsyncExitStack() as stack:
        leader, snapshot = await exported_snapshot(engine, stack)
        before = await leader.scalar(count)
        async with engine.begin() as other:
            await other.execute(
                insert(LedgerEntry),
                [
                    {
                        **LATE_ENTRY,
                        "created_at": datetime.now(UTC),
                        "available_at": datetime.now(UTC),
                    }
                ],
            )
        follower = await joined(engine, stack, snapshot)
        assert await follower.scalar(count) == before
        assert await leader.scalar(count) == before
    async with engine.connect() as fresh:
        assert await fresh.scalar(count) == before + 1


async def test_a_snapshot_id_that_is_not_postgres_own_is_refused(engine: AsyncEngine) -> None:
    async with AsyncExitStack() as stack:
        with pytest.raises(ValueError, match="snapshot id"):
            await joined(engine, stack, "1'; DROP TABLE ledger_entries; --")


# Any text PostgreSQL can store (no NUL, no lone surrogate), and text that starts
# the way a formula does.
storable = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
cell_text = st.text(storable, max_size=30) | st.builds(
    str.__add__,
    st.sampled_from(["=", "+", "-", "@", "\t", "\r", "'", '"', " "]),
    st.text(storable, max_size=8),
)


async def render_both(database: Settings, texts: list[tuple[str, str, str]]) -> tuple[str, str]:
    """The CSV rows of freshly inserted entries as PostgreSQL and Python render them."""
    engine = create_engine(database)
    try:
        now = datetime(2026, 11, 27, tzinfo=UTC)
        rows = [
            {
                "created_at": now,
                "kind": "adjustment",
                "order_id": order_id,
                "code": code,
                "currency": "EUR",
                "order_amount": 0,
                "discount": 0,
                "commission": -n,
                "available_at": now,
                "note": note,
            }
            for n, (order_id, code, note) in enumerate(texts)
        ]
        async with engine.begin() as connection:
            ids = list(
                await connection.scalars(insert(LedgerEntry).returning(LedgerEntry.id), rows)
            )
            low, high = min(ids), max(ids) + 1
            by_sql = await connection.scalar(
                export_sql.chunk(Filters(), export_sql.csv_line), {"low": low, "high": high}
            )
            page = await connection.execute(
                entries_with_payout()
                .where(entries.c.id >= low, entries.c.id < high)
                .order_by(entries.c.id)
            )
            _, render = FORMATS["csv"]
            by_python = render([export_row(row) for row in page], False).decode()
    finally:
        await engine.dispose()
    return by_sql, by_python


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts=st.lists(st.tuples(cell_text, cell_text, cell_text), min_size=1, max_size=8))
def test_both_renderers_neutralise_and_quote_any_client_text_alike(
    database: Settings, texts: list[tuple[str, str, str]]
) -> None:
    by_sql, by_python = asyncio.run(render_both(database, texts))
    assert by_sql == by_python
    for row in csv.reader(io.StringIO(by_python, newline="")):
        for name in ("order_id", "code", "note"):
            cell = row[COLUMNS.index(name)]
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), (name, row)
