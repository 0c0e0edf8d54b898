"""The `promo` command line: keys, demo, settings errors, migrations gate, openapi.

Commands run in-process through click's CliRunner (fast) and, where the real
process's stderr and exit matter, as subprocesses. Each test gets its own
SQLite file or PostgreSQL database; nothing is mocked.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner, Result
from sqlalchemy import func, select

from promo.app import create_app
from promo.auth.models import ApiKey
from promo.auth.roles import Role
from promo.cli import main
from promo.db.engine import create_engine, create_sessionmaker
from promo.pii import DEV_PII_KEY
from promo.settings import Settings
from tests.conftest import TEST_SECRET, make_settings
from tests.support.factories import bearer

REPO = Path(__file__).resolve().parents[2]
DEMO_KEY_LINE = re.compile(r"^\s+(\w+)\s+(pk_\S+)$", re.MULTILINE)


def promo_command() -> list[str]:
    script = Path(sys.executable).with_name("promo")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "promo"]


def clean_environ(**promo: str) -> dict[str, str]:
    """This process's environment without any PROMO_* variable, plus ``promo``."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("PROMO_")}
    environ.update({f"PROMO_{k.upper()}": v for k, v in promo.items()})
    return environ


def promo(*args: str, **settings: str) -> Result:
    """Run `promo ARGS` in-process with exactly the given PROMO_* settings."""
    env: Mapping[str, str | None] = {
        **{k: None for k in os.environ if k.startswith("PROMO_")},
        **{f"PROMO_{k.upper()}": v for k, v in settings.items()},
    }
    return CliRunner().invoke(main, list(args), env=env)


def stderr_lines(result: Result) -> list[str]:
    return result.stderr.strip().splitlines()


def whoami(settings: Settings, key: str) -> httpx.Response:
    """GET /v1/key on the app over ``settings``' database, with ``key``."""

    async def run() -> httpx.Response:
        engine = create_engine(settings)
        try:
            transport = httpx.ASGITransport(app=create_app(settings, engine=engine))
            async with httpx.AsyncClient(transport=transport, base_url="http://promo.test") as c:
                return await c.get("/v1/key", headers=bearer(key))
        finally:
            await engine.dispose()

    return asyncio.run(run())


def count_keys(settings: Settings) -> int:
    async def run() -> int:
        engine = create_engine(settings)
        try:
            async with create_sessionmaker(engine)() as session:
                return int(await session.scalar(select(func.count()).select_from(ApiKey)) or 0)
        finally:
            await engine.dispose()

    return asyncio.run(run())


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"


def create_key(url: str, role: str = "marketer") -> str:
    result = promo("keys", "create", "--role", role, database_url=url)
    assert result.exit_code == 0, result.stderr
    return result.stdout.strip()


# --- keys ---------------------------------------------------------------------


def test_created_key_is_printed_alone_on_stdout_and_authenticates(sqlite_url: str) -> None:
    result = promo("keys", "create", "--role", "marketer", database_url=sqlite_url)

    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1, "stdout holds the key and nothing else, so it can be piped"
    assert lines[0].startswith("pk_")
    response = whoami(make_settings(sqlite_url), lines[0])
    assert response.status_code == 200, response.text
    assert response.json()["role"] == "marketer"


def test_affiliate_key_without_affiliate_fails_with_one_line_and_creates_nothing(
    sqlite_url: str,
) -> None:
    result = promo("keys", "create", "--role", "affiliate", database_url=sqlite_url)

    assert result.exit_code != 0
    assert isinstance(result.exception, SystemExit), result.exception
    assert result.stdout == ""
    [line] = stderr_lines(result)
    assert "affiliate" in line
    assert count_keys(make_settings(sqlite_url)) == 0


def test_key_list_shows_the_prefix_but_never_the_secret(sqlite_url: str) -> None:
    key = create_key(sqlite_url)

    result = promo("keys", "list", database_url=sqlite_url)

    assert result.exit_code == 0, result.stderr
    assert key[:10] in result.stdout
    assert key not in result.stdout
    assert key[10:] not in result.stdout
    assert key[10:] not in result.stderr


def test_key_list_on_a_fresh_sqlite_file_migrates_it_and_shows_no_keys(sqlite_url: str) -> None:
    result = promo("keys", "list", database_url=sqlite_url)

    assert result.exit_code == 0, result.stderr
    assert len(result.stdout.splitlines()) == 1, "only the header"


@pytest.mark.parametrize("name_by", ["id", "prefix"])
def test_revoked_key_is_refused(sqlite_url: str, name_by: str) -> None:
    created = promo("keys", "create", "--role", "checkout", database_url=sqlite_url)
    key = created.stdout.strip()
    key_id = re.search(r"\bkey_\w+", created.stderr)
    assert key_id is not None, created.stderr
    settings = make_settings(sqlite_url)
    assert whoami(settings, key).status_code == 200

    result = promo(
        "keys", "revoke", key_id.group() if name_by == "id" else key[:10], database_url=sqlite_url
    )

    assert result.exit_code == 0, result.stderr
    assert key_id.group() in result.stdout
    assert whoami(settings, key).status_code == 401
    assert "revoked" in promo("keys", "list", database_url=sqlite_url).stdout


def test_revoking_an_unknown_key_fails_with_one_line(sqlite_url: str) -> None:
    create_key(sqlite_url)

    result = promo("keys", "revoke", "pk_nosuchkey", database_url=sqlite_url)

    assert result.exit_code != 0
    assert isinstance(result.exception, SystemExit), result.exception
    assert len(stderr_lines(result)) == 1


# --- settings errors ------------------------------------------------------------

BAD_SETTINGS = [("port", "abc", "PROMO_PORT"), ("database_url", "mysql://x", "PROMO_DATABASE_URL")]
COMMANDS = [
    ["serve"],
    ["db", "upgrade"],
    ["db", "downgrade", "base"],
    ["keys", "create", "--role", "admin"],
    ["keys", "list"],
    ["keys", "revoke", "pk_whatever"],
    ["demo"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
@pytest.mark.parametrize(("field", "value", "variable"), BAD_SETTINGS, ids=lambda v: str(v))
def test_invalid_setting_fails_the_command_with_one_line_naming_it(
    tmp_path: Path, command: list[str], field: str, value: str, variable: str
) -> None:
    settings = {"database_url": f"sqlite+aiosqlite:///{tmp_path / 'never.db'}", field: value}

    result = promo(*command, **settings)

    assert result.exit_code != 0
    assert isinstance(result.exception, SystemExit), result.exception
    [line] = stderr_lines(result)
    assert variable in line
    assert not (tmp_path / "never.db").exists(), "nothing runs past a bad setting"


def test_invalid_setting_in_a_real_process_prints_one_line_and_no_traceback(
    tmp_path: Path,
) -> None:
    runs = [
        subprocess.Popen(
            [*promo_command(), "keys", "list"],
            env=clean_environ(**{field: value}),
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for field, value, _ in BAD_SETTINGS
    ]
    for run, (_, _, variable) in zip(runs, BAD_SETTINGS, strict=True):
        stdout, stderr = run.communicate(timeout=60)
        assert run.returncode != 0
        assert stdout == ""
        assert "Traceback" not in stderr
        [line] = stderr.strip().splitlines()
        assert variable in line
    assert list(tmp_path.iterdir()) == [], "no database file was created"


# --- demo -----------------------------------------------------------------------


def test_demo_on_an_empty_database_prints_a_working_key_per_role(sqlite_url: str) -> None:
    result = promo("demo", database_url=sqlite_url)

    assert result.exit_code == 0, result.stderr
    keys = dict(DEMO_KEY_LINE.findall(result.stdout))
    assert set(keys) == {role.value for role in Role}
    settings = make_settings(sqlite_url)
    for role, key in keys.items():
        response = whoami(settings, key)
        assert response.status_code == 200, (role, response.text)
        assert response.json()["role"] == role


DEMO_ACCOUNT_LINE = re.compile(r"^  (\w+)\s+(\S+@example\.com)\s+(\S+)$", re.M)


def sign_in(settings: Settings, email: str, password: str) -> tuple[int, str]:
    """Sign in to the console of the app over ``settings``' database: (status, home page)."""

    async def run() -> tuple[int, str]:
        engine = create_engine(settings)
        try:
            transport = httpx.ASGITransport(app=create_app(settings, engine=engine))
            async with httpx.AsyncClient(transport=transport, base_url="http://promo.test") as c:
                form = await c.get("/console/login")
                token = re.search(r'name="_csrf_token" value="([^"]+)"', form.text)
                assert token
                answer = await c.post(
                    "/console/login",
                    data={"email": email, "password": password, "_csrf_token": token.group(1)},
                )
                return answer.status_code, answer.headers.get("location", "")
        finally:
            await engine.dispose()

    return asyncio.run(run())


def test_demo_prints_a_console_sign_in_per_role_that_works(sqlite_url: str) -> None:
    result = promo("demo", database_url=sqlite_url)

    assert result.exit_code == 0, result.stderr
    accounts = {
        role: (email, password)
        for role, email, password in DEMO_ACCOUNT_LINE.findall(result.stdout)
    }
    assert set(accounts) == {"admin", "marketer", "accountant", "affiliate"}
    settings = make_settings(sqlite_url)
    homes = {role: sign_in(settings, *account) for role, account in accounts.items()}
    assert homes["affiliate"] == (302, "/console/me/codes")
    assert homes["accountant"] == (302, "/console/ledger")
    assert homes["marketer"] == (302, "/console/campaigns")
    assert sign_in(settings, accounts["admin"][0], "not the password")[0] == 401


def test_demo_on_a_seeded_database_refuses_and_seeds_nothing(sqlite_url: str) -> None:
    assert promo("demo", database_url=sqlite_url).exit_code == 0
    settings = make_settings(sqlite_url)
    before = count_keys(settings)

    result = promo("demo", database_url=sqlite_url)

    assert "pk_" not in result.stdout
    assert "already holds data" in result.stderr
    assert count_keys(settings) == before


def test_demo_refuses_a_database_that_holds_only_api_keys(sqlite_url: str) -> None:
    create_key(sqlite_url, role="admin")

    result = promo("demo", database_url=sqlite_url)

    assert "pk_" not in result.stdout
    assert count_keys(make_settings(sqlite_url)) == 1


# --- PostgreSQL: migrations are the operator's step --------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_refuses_pending_migrations_until_db_upgrade(postgres_url: str) -> None:
    environ = clean_environ(
        database_url=postgres_url, secret=TEST_SECRET, pii_key=DEV_PII_KEY, port=str(free_port())
    )

    # A server that wrongly starts would run until the timeout: that fails too.
    refused = subprocess.run(
        [*promo_command(), "serve"],
        env=environ,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )

    assert refused.returncode != 0
    assert "Traceback" not in refused.stderr
    [line] = refused.stderr.strip().splitlines()
    assert "promo db upgrade" in line

    upgraded = promo(
        "db", "upgrade", database_url=postgres_url, secret=TEST_SECRET, pii_key=DEV_PII_KEY
    )
    assert upgraded.exit_code == 0, upgraded.stderr
    created = promo(
        "keys",
        "create",
        "--role",
        "admin",
        database_url=postgres_url,
        secret=TEST_SECRET,
        pii_key=DEV_PII_KEY,
    )
    assert created.exit_code == 0, created.stderr
    response = whoami(make_settings(postgres_url), created.stdout.strip())
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    "command",
    [["keys", "create", "--role", "admin"], ["keys", "list"], ["keys", "revoke", "pk_x"], ["demo"]],
    ids=" ".join,
)
def test_data_commands_refuse_an_unmigrated_postgresql_database(
    postgres_url: str, command: list[str]
) -> None:
    result = promo(*command, database_url=postgres_url, secret=TEST_SECRET, pii_key=DEV_PII_KEY)

    assert result.exit_code != 0
    assert isinstance(result.exception, SystemExit), result.exception
    [line] = stderr_lines(result)
    assert "promo db upgrade" in line


# --- openapi --------------------------------------------------------------------


def test_openapi_check_passes_on_the_committed_document() -> None:
    result = promo("openapi", "--check", "--output", str(REPO / "openapi" / "openapi.json"))

    assert result.exit_code == 0, result.stderr


def test_openapi_check_fails_on_a_stale_document(tmp_path: Path) -> None:
    stale = tmp_path / "openapi.json"
    shutil.copy(REPO / "openapi" / "openapi.json", stale)
    stale.write_text(stale.read_text().replace('"title": "promo"', '"title": "old"', 1))

    result = promo("openapi", "--check", "--output", str(stale))

    assert result.exit_code != 0
    assert "promo openapi" in result.stderr
