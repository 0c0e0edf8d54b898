"""`promo db purge` applies the retention settings (promo.retention) and
touches nothing else: the books stay whole."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, insert, select

from promo.audit import audit_log
from promo.campaigns.models import Campaign
from promo.checkout.idempotency import records
from promo.checkout.models import CustomerOrders, CustomerUsage
from promo.clock import utc_now
from promo.db import migrate
from promo.db.engine import create_engine
from promo.ledger.models import LedgerEntry
from promo.settings import Settings
from tests.cli.test_cli import promo
from tests.conftest import make_settings
from tests.support.factories import campaign_row
from tests.support.pii import ref

NOW = utc_now()


def arrange(settings: Settings) -> None:
    async def run() -> None:
        engine = create_engine(settings)
        async with engine.begin() as connection:
            for key, age in (("old", timedelta(hours=49)), ("young", timedelta(hours=47))):
                await connection.execute(
                    insert(records).values(
                        scope="redeem:checkout:", key=key, request_hash="x", created_at=NOW - age
                    )
                )
            await connection.execute(
                insert(LedgerEntry.__table__).values(
                    created_at=NOW - timedelta(days=400),
                    kind="adjustment",
                    currency="EUR",
                    order_amount=0,
                    discount=0,
                    commission=1,
                    available_at=NOW,
                )
            )
            for action, age in (("campaign.create", 31), ("campaign.update", 29)):
                await connection.execute(
                    insert(audit_log).values(
                        at=NOW - timedelta(days=age),
                        role="admin",
                        actor="cli:ops",
                        action=action,
                        target="cmp_1",
                        details={"name": "Summer"},
                    )
                )
            columns = {
                c.name: getattr(row, c.name)
                for row in [campaign_row(name="Summer", now=NOW)]
                for c in Campaign.__table__.columns
                if getattr(row, c.name) is not None
            }
            campaign_id = (
                await connection.execute(insert(Campaign.__table__).values(**columns))
            ).inserted_primary_key[0]
            for who, used in (("id:empty", 0), ("id:holder", 1)):
                await connection.execute(
                    insert(CustomerUsage.__table__).values(
                        campaign_id=campaign_id, customer_ref=ref(who), used=used
                    )
                )
                await connection.execute(
                    insert(CustomerOrders.__table__).values(customer_ref=ref(who), live=used)
                )
        await engine.dispose()

    asyncio.run(run())


def remaining(settings: Settings) -> dict[str, Any]:
    async def run() -> dict[str, Any]:
        engine = create_engine(settings)
        async with engine.connect() as connection:
            found = {
                "answers": list((await connection.execute(select(records.c.key))).scalars()),
                "ledger": await connection.scalar(select(func.count()).select_from(LedgerEntry)),
                "audit": [
                    (row.action, row.details)
                    for row in await connection.execute(
                        select(audit_log.c.action, audit_log.c.details).order_by(audit_log.c.id)
                    )
                ],
                "usage": list(
                    (
                        await connection.execute(select(CustomerUsage.__table__.c.customer_ref))
                    ).scalars()
                ),
                "orders": list(
                    (
                        await connection.execute(select(CustomerOrders.__table__.c.customer_ref))
                    ).scalars()
                ),
            }
        await engine.dispose()
        return found

    return asyncio.run(run())


@pytest.fixture
def database(tmp_path: Path) -> Settings:
    settings = make_settings(f"sqlite+aiosqlite:///{tmp_path / 'purge.db'}")
    migrate.upgrade(settings)
    arrange(settings)
    return settings


def test_purge_applies_each_retention_and_keeps_the_books(database: Settings) -> None:
    result = promo(
        "db",
        "purge",
        database_url=database.database_url,
        retain_answers_hours="48",
        retain_audit_details_days="30",
    )
    assert result.exit_code == 0, result.output
    assert (
        "purged 1 idempotency records, the details of 1 audit entries "
        "and 2 empty customer counters" in result.output
    )
    assert remaining(database) == {
        "answers": ["young"],
        "ledger": 1,
        "audit": [
            ("campaign.create", {"purged": True}),
            ("campaign.update", {"name": "Summer"}),
        ],
        "usage": [ref("id:holder")],
        "orders": [ref("id:holder")],
    }
    again = promo("db", "purge", database_url=database.database_url)
    assert "purged 0 idempotency records, the details of 0 audit entries" in again.output


def test_defaults_keep_a_week_of_answers_and_options_override_them(database: Settings) -> None:
    kept = promo("db", "purge", database_url=database.database_url)
    assert kept.exit_code == 0, kept.output
    assert remaining(database)["answers"] == ["old", "young"]
    assert remaining(database)["audit"][0][1] == {"name": "Summer"}
    shorter = promo("db", "purge", "--answers-hours", "48", database_url=database.database_url)
    assert shorter.exit_code == 0, shorter.output
    assert remaining(database)["answers"] == ["young"]
    refused = promo("db", "purge", "--answers-hours", "12", database_url=database.database_url)
    assert refused.exit_code != 0
    refused = promo("db", "purge", database_url=database.database_url, retain_answers_hours="1")
    assert refused.exit_code != 0
    assert "PROMO_RETAIN_ANSWERS_HOURS" in refused.output
