"""`promo users`: console accounts made from the command line, as an operator would."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select

from promo.audit import audit_log
from promo.cli import main
from promo.clock import utc_now
from promo.db.engine import create_engine, create_sessionmaker
from promo.people import service
from promo.settings import Settings
from tests.conftest import make_settings

PASSWORD = "a long enough password"


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'users.db'}"


def promo(sqlite_url: str, *args: str, stdin: str | None = None, **settings: str) -> Result:
    env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("PROMO_")}
    env["PROMO_DATABASE_URL"] = sqlite_url
    env.update({f"PROMO_{k.upper()}": v for k, v in settings.items()})
    return CliRunner().invoke(main, list(args), env=env, input=stdin)


def signs_in(settings: Settings, email: str, password: str) -> bool:
    async def run() -> bool:
        engine = create_engine(settings)
        try:
            async with create_sessionmaker(engine)() as session, session.begin():
                return await service.check_password(session, email, password) is not None
        finally:
            await engine.dispose()

    return asyncio.run(run())


def use_link(settings: Settings, link: str, password: str) -> None:
    async def run() -> None:
        engine = create_engine(settings)
        try:
            async with create_sessionmaker(engine)() as session, session.begin():
                await service.use_link(session, link.rsplit("/", 1)[1], password, now=utc_now())
        finally:
            await engine.dispose()

    asyncio.run(run())


def audit_actions(settings: Settings) -> list[tuple[str, str]]:
    async def run() -> list[tuple[str, str]]:
        engine = create_engine(settings)
        try:
            async with engine.connect() as connection:
                rows = await connection.execute(select(audit_log.c.action, audit_log.c.actor))
                return [(row.action, row.actor.split(":")[0]) for row in rows]
        finally:
            await engine.dispose()

    return asyncio.run(run())


def test_an_invitation_link_is_printed_alone_and_sets_the_password(sqlite_url: str) -> None:
    invited = promo(
        sqlite_url,
        "users", "invite", "--email", "Mia@Example.com", "--role", "marketer",
        public_url="https://promo.example.com/",
    )  # fmt: skip
    assert invited.exit_code == 0, invited.output
    link = invited.stdout.strip()
    assert link.startswith("https://promo.example.com/console/invitations/")
    settings = make_settings(sqlite_url)
    assert not signs_in(settings, "mia@example.com", PASSWORD)
    use_link(settings, link, PASSWORD)
    assert signs_in(settings, "mia@example.com", PASSWORD)
    assert ("user.invite", "cli") in audit_actions(settings)


def test_a_scripted_account_reads_its_password_from_stdin(sqlite_url: str) -> None:
    created = promo(
        sqlite_url,
        "users", "create", "--email", "ops@example.com", "--role", "admin", "--password-stdin",
        stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    assert PASSWORD not in created.output
    assert signs_in(make_settings(sqlite_url), "ops@example.com", PASSWORD)
    listed = promo(sqlite_url, "users", "list")
    assert "ops@example.com" in listed.stdout
    assert " active " in listed.stdout


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["--role", "affiliate"], None, "affiliate_id: is required for the affiliate role"),
        (["--role", "marketer", "--password-stdin"], "short\n", "password: must be at least 12"),
    ],
)
def test_a_refused_account_is_one_line_and_creates_nothing(
    sqlite_url: str, args: list[str], stdin: str | None, message: str
) -> None:
    command = "create" if "--password-stdin" in args else "invite"
    refused = promo(sqlite_url, "users", command, "--email", "x@example.com", *args, stdin=stdin)
    assert refused.exit_code == 1
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"promo: {message}")
    assert "x@example.com" not in promo(sqlite_url, "users", "list").stdout


def test_a_second_account_with_the_same_email_is_refused(sqlite_url: str) -> None:
    assert (
        promo(
            sqlite_url, "users", "invite", "--email", "a@example.com", "--role", "accountant"
        ).exit_code
        == 0
    )
    again = promo(sqlite_url, "users", "invite", "--email", "A@example.com", "--role", "marketer")
    assert again.exit_code == 1
    assert "already exists" in again.stderr


def test_reset_prints_a_link_that_replaces_the_password_and_deactivate_locks_out(
    sqlite_url: str,
) -> None:
    promo(
        sqlite_url,
        "users", "create", "--email", "r@example.com", "--role", "marketer", "--password-stdin",
        stdin=PASSWORD + "\n",
    )  # fmt: skip
    reset = promo(sqlite_url, "users", "reset", "--email", "r@example.com")
    assert reset.exit_code == 0, reset.output
    assert "/console/password-reset/" in reset.stdout
    settings = make_settings(sqlite_url)
    use_link(settings, reset.stdout.strip(), "the replaced password")
    assert not signs_in(settings, "r@example.com", PASSWORD)
    assert signs_in(settings, "r@example.com", "the replaced password")
    assert promo(sqlite_url, "users", "deactivate", "--email", "r@example.com").exit_code == 0
    assert not signs_in(settings, "r@example.com", "the replaced password")
    assert "inactive" in promo(sqlite_url, "users", "list").stdout
