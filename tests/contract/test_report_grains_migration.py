"""Migration 0015: report_weeks and report_months start as the sums of the days
already rolled up, per ISO week (Monday, UTC) and calendar month, and code."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Connection

from promo.db import migrate
from promo.settings import Settings
from tests.conftest import make_settings
from tests.contract.test_migrations import run_sync

FIGURES = (
    "validations_tried",
    "validations_valid",
    "redemptions",
    "revenue",
    "discount",
    "commission",
    "refunds",
    "refunds_count",
)
EPOCH = date(1970, 1, 1)
FIRST_MONDAY = date(1969, 12, 29)
# Across a year's end, a February and weeks that straddle months.
DAYS = [date(2025, 12, 20) + timedelta(days=n) for n in range(0, 80, 3)]


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    if request.param == "sqlite":
        return make_settings(f"sqlite+aiosqlite:///{tmp_path / 'grains.db'}")
    return make_settings(request.getfixturevalue("postgres_url"))


def day_rows() -> list[dict[str, object]]:
    rows = []
    for n, day in enumerate(DAYS):
        for code_id in (1, 2):
            figures = {name: (n + 1) * (i + code_id) - 3 * i for i, name in enumerate(FIGURES)}
            rows.append(
                {
                    "day": (day - EPOCH).days,
                    "code_id": code_id,
                    "campaign_id": 7,
                    "affiliate_id": None if code_id == 1 else 9,
                    "currency": "EUR",
                    **figures,
                }
            )
    return rows


def seed(connection: Connection) -> None:
    columns = ", ".join(day_rows()[0])
    values = ", ".join(f":{name}" for name in day_rows()[0])
    connection.execute(text(f"INSERT INTO report_days ({columns}) VALUES ({values})"), day_rows())  # noqa: S608
    connection.commit()


def expected(unit_of: dict[int, int]) -> dict[tuple[int, int], tuple[object, ...]]:
    found: dict[tuple[int, int], list[object]] = {}
    sums: dict[tuple[int, int], list[int]] = defaultdict(lambda: [0] * len(FIGURES))
    for row in day_rows():
        key = (unit_of[int(row["day"])], int(row["code_id"]))  # type: ignore[call-overload]
        found[key] = [row["campaign_id"], row["affiliate_id"], row["currency"]]
        for i, name in enumerate(FIGURES):
            sums[key][i] += int(row[name])  # type: ignore[call-overload]
    return {key: (*found[key], *sums[key]) for key in found}


Rows = dict[tuple[int, int], tuple[object, ...]]


def read(table: str, key: str) -> Callable[[Connection], Rows]:
    columns = ", ".join(("campaign_id", "affiliate_id", "currency", *FIGURES))

    def work(connection: Connection) -> Rows:
        rows = connection.execute(text(f"SELECT {key}, code_id, {columns} FROM {table}"))  # noqa: S608
        return {(row[0], row[1]): tuple(row[2:]) for row in rows}

    return work


def test_weeks_and_months_are_filled_from_the_days(database: Settings) -> None:
    migrate.upgrade(database, "0014")
    run_sync(database, seed)
    migrate.upgrade(database, "0015")
    days = {(day - EPOCH).days: day for day in DAYS}
    weeks = {key: (day - FIRST_MONDAY).days // 7 for key, day in days.items()}
    months = {key: (day.year - 1970) * 12 + day.month - 1 for key, day in days.items()}
    assert run_sync(database, read("report_weeks", "week")) == expected(weeks)
    assert run_sync(database, read("report_months", "month")) == expected(months)
    assert len({week for week, _ in expected(weeks)}) > 10
    assert len({month for month, _ in expected(months)}) == 4  # December to March


def test_weeks_and_months_of_an_empty_database_are_empty(database: Settings) -> None:
    migrate.upgrade(database, "0015")
    assert run_sync(database, read("report_weeks", "week")) == {}
    assert run_sync(database, read("report_months", "month")) == {}
