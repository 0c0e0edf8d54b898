"""The checkout hot path stays an indexed lookup, however many codes exist.

A predicate the planner cannot match to the partial unique index (``live IS
true`` against ``WHERE live``) once made every validation scan the whole
codes table; these tests read the real plans.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from sqlalchemy import text
from sqlalchemy.dialects import postgresql, sqlite

from promo.checkout.offers import offer_query
from promo.db import migrate
from promo.db.engine import create_engine
from tests.conftest import make_settings
from tests.support.pii import ref


def plan(database_url: str, sql: str, params: dict[str, object] | None = None) -> str:
    async def run() -> str:
        engine = create_engine(make_settings(database_url))
        try:
            async with engine.connect() as connection:
                if connection.dialect.name == "postgresql":
                    await connection.execute(text("SET enable_seqscan = off"))
                    rows = await connection.execute(text(f"EXPLAIN {sql}"))
                    return "\n".join(row[0] for row in rows)
                rows = await connection.execute(text(f"EXPLAIN QUERY PLAN {sql}"), params or {})
                return "\n".join(str(row[-1]) for row in rows)
        finally:
            await engine.dispose()

    return asyncio.run(run())


@pytest.mark.parametrize("customer", [[], [ref("email:ana@example.com")]])
def test_validation_lookup_uses_the_live_code_index_on_postgresql(
    postgres_url: str, customer: list[str]
) -> None:
    migrate.upgrade(make_settings(postgres_url))
    sql = str(
        offer_query()
        .params(canonical="SUMMER20", id_refs=[ref("id:c1")], email_refs=customer, order_id="o-1")
        .compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})
    )
    found = plan(postgres_url, sql)
    assert "uq_codes_canonical_live" in found, found
    # The shopper's and the order's holdings are index probes too.
    for table in ("codes", "redemptions", "customer_orders", "customer_usage"):
        assert f"Seq Scan on {table}" not in found, found


def test_validation_lookup_uses_the_live_code_index_on_sqlite(tmp_path: object) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/plan.db"
    migrate.upgrade(make_settings(url))
    # Bound, not literal: SQLite takes the lists of refs as JSON text (promo.db.lists).
    compiled = offer_query().compile(dialect=sqlite.dialect(paramstyle="named"))
    sql = str(compiled)
    params = {
        **compiled.params,
        "canonical": "SUMMER20",
        "id_refs": json.dumps([ref("id:c1")]),
        "email_refs": "[]",
        "order_id": "o-1",
    }
    found = plan(url, sql, params)
    assert "SEARCH codes USING INDEX uq_codes_canonical_live" in found, found
