"""`promo codes generate`: a batch generated in-process with a progress bar, on both backends."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import func, select

from promo.cli import main
from promo.codes.models import Code, CodeBatch
from promo.db.engine import create_engine
from promo.ids import Kind, decode
from promo.pii import DEV_PII_KEY
from tests.conftest import TEST_SECRET, make_settings


def promo(*args: str, **settings: str) -> Result:
    env: Mapping[str, str | None] = {
        **{k: None for k in os.environ if k.startswith("PROMO_")},
        **{f"PROMO_{k.upper()}": v for k, v in settings.items()},
    }
    return CliRunner().invoke(main, list(args), env=env)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'codes.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


def seeded(url: str) -> str:
    """A migrated database with the demo campaign; its id."""
    assert (
        promo("db", "upgrade", database_url=url, secret=TEST_SECRET, pii_key=DEV_PII_KEY).exit_code
        == 0
    )
    demo = promo("demo", database_url=url, secret=TEST_SECRET, pii_key=DEV_PII_KEY)
    assert demo.exit_code == 0, demo.stderr
    return demo.stdout.split()[2]  # "demo campaign cmp_... and affiliate ..."


def batch_state(url: str, batch_id: str) -> tuple[str, int, int]:
    async def run() -> tuple[str, int, int]:
        engine = create_engine(make_settings(url))
        try:
            async with engine.connect() as connection:
                number = decode(Kind.CODE_BATCH, batch_id)
                status, generated = (
                    await connection.execute(
                        select(CodeBatch.status, CodeBatch.generated).where(CodeBatch.id == number)
                    )
                ).one()
                stored = await connection.scalar(
                    select(func.count()).select_from(Code).where(Code.batch_id == number)
                )
                return str(status), int(generated), int(stored or 0)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def test_generate_prints_the_batch_id_after_a_progress_bar(database_url: str) -> None:
    campaign = seeded(database_url)

    result = promo(
        "codes",
        "generate",
        "--campaign",
        campaign,
        "--count",
        "12000",
        "--pattern",
        "CLI-####-####",
        "--max-redemptions-per-code",
        "unlimited",
        database_url=database_url,
        secret=TEST_SECRET,
        pii_key=DEV_PII_KEY,
    )

    assert result.exit_code == 0, result.stderr
    [batch_id] = result.stdout.split()
    assert batch_id.startswith("bat_")
    assert "CLI-####-####" in result.stderr  # the progress bar's label
    assert batch_state(database_url, batch_id) == ("done", 12_000, 12_000)


def test_too_guessable_pattern_fails_with_one_line_naming_the_largest_count(
    database_url: str,
) -> None:
    campaign = seeded(database_url)

    result = promo(
        "codes",
        "generate",
        "--campaign",
        campaign,
        "--count",
        "500",
        "--pattern",
        "AB-####",
        "--charset",
        "digits",
        database_url=database_url,
        secret=TEST_SECRET,
        pii_key=DEV_PII_KEY,
    )

    assert result.exit_code == 1
    assert result.stdout == ""
    [line] = result.stderr.strip().splitlines()
    assert "10000 possible codes" in line
    assert "at most 1" in line


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--campaign", "cmp_nope"], "no such campaign"),
        (["--max-redemptions-per-code", "0"], "--max-redemptions-per-code"),
        (["--pattern", "NOSLOTS"], "'#'"),
    ],
)
def test_bad_arguments_fail_with_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'codes.db'}"
    campaign = seeded(url)
    base = {"--campaign": campaign, "--count": "10", "--pattern": "X-######"}
    base.update(dict(zip(args[::2], args[1::2], strict=True)))
    result = promo("codes", "generate", *[x for kv in base.items() for x in kv], database_url=url)
    assert result.exit_code != 0
    [line] = result.stderr.strip().splitlines()
    assert message in line
