"""`promo db purge` drops expired Idempotency-Key records and nothing else."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, insert, select

from promo.checkout.idempotency import records
from promo.clock import utc_now
from promo.db import migrate
from promo.db.engine import create_engine
from promo.ledger.models import LedgerEntry
from tests.cli.test_cli import promo
from tests.conftest import make_settings


def test_purge_keeps_records_younger_than_the_retention(tmp_path: Path) -> None:
    settings = make_settings(f"sqlite+aiosqlite:///{tmp_path / 'purge.db'}")
    migrate.upgrade(settings)
    now = utc_now()

    async def arrange() -> None:
        engine = create_engine(settings)
        async with engine.begin() as connection:
            for key, age in (("old", timedelta(hours=49)), ("young", timedelta(hours=47))):
                await connection.execute(
                    insert(records).values(
                        scope="redeem:checkout:", key=key, request_hash="x", created_at=now - age
                    )
                )
            await connection.execute(
                insert(LedgerEntry.__table__).values(
                    created_at=now - timedelta(days=400),
                    kind="adjustment",
                    currency="EUR",
                    order_amount=0,
                    discount=0,
                    commission=1,
                    available_at=now,
                )
            )
        await engine.dispose()

    async def remaining() -> tuple[list[str], int]:
        engine = create_engine(settings)
        async with engine.connect() as connection:
            keys = (await connection.execute(select(records.c.key))).scalars().all()
            ledger = await connection.scalar(select(func.count()).select_from(LedgerEntry))
        await engine.dispose()
        return list(keys), int(ledger or 0)

    asyncio.run(arrange())
    result = promo("db", "purge", database_url=settings.database_url, secret=settings.secret)
    assert result.exit_code == 0, result.output
    assert "purged 1 idempotency records" in result.output
    assert asyncio.run(remaining()) == (["young"], 1)
    refused = promo("db", "purge", "--idempotency-hours", "12", database_url=settings.database_url)
    assert refused.exit_code != 0
