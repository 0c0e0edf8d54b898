"""Migration 0008 (catalogue): existing affiliates sharing a canonical e-mail stop the
upgrade before any change, naming them; once each has its own, it goes through."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Connection

from promo.db import migrate
from promo.settings import Settings
from tests.conftest import make_settings
from tests.contract.test_migrations import current_heads, head_revisions, run_sync

INSERT = text(
    "INSERT INTO affiliates (name, email, email_key, payout_thresholds, holding_days, "
    "active, created_at, updated_at) VALUES (:name, :email, :key, '{}', 30, true, "
    "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
)


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    if request.param == "sqlite":
        return make_settings(f"sqlite+aiosqlite:///{tmp_path / 'catalogue.db'}")
    return make_settings(request.getfixturevalue("postgres_url"))


def seed(connection: Connection) -> None:
    for name, email in (("Anna", "Anna.Smith@gmail.com"), ("Anna 2", "annasmith+b@gmail.com")):
        connection.execute(INSERT, {"name": name, "email": email, "key": "annasmith@gmail.com"})
    connection.execute(INSERT, {"name": "Bob", "email": "bob@x.test", "key": "bob@x.test"})
    connection.commit()


def rekey(connection: Connection) -> None:
    connection.execute(
        text("UPDATE affiliates SET email_key = 'anna2@x.test' WHERE name = 'Anna 2'")
    )
    connection.commit()


def test_duplicate_affiliate_emails_stop_the_upgrade_until_resolved(database: Settings) -> None:
    migrate.upgrade(database, "0007")
    run_sync(database, seed)

    with pytest.raises(Exception, match=r"annasmith@gmail\.com: 2 affiliates") as refused:
        migrate.upgrade(database, "head")
    assert "nothing was changed" in str(refused.value)
    assert current_heads(database) == {"0007"}

    run_sync(database, rekey)
    migrate.upgrade(database, "head")
    assert current_heads(database) == head_revisions()
