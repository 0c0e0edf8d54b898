"""What the CLI changes is in the audit log, as the operator who ran it, like a request.

Read back through GET /v1/audit with the demo's admin key, on both backends.
The OS user comes from ``LOGNAME``, as getpass reads it.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result

from promo.app import create_app
from promo.cli import main
from promo.db.engine import create_engine
from promo.pii import DEV_PII_KEY
from tests.conftest import TEST_SECRET, make_settings
from tests.support.factories import bearer

OPERATOR = "ops-anna"


def promo(url: str, *args: str) -> Result:
    env: Mapping[str, str | None] = {
        **{k: None for k in os.environ if k.startswith("PROMO_")},
        "PROMO_DATABASE_URL": url,
        "PROMO_SECRET": TEST_SECRET,
        "PROMO_PII_KEY": DEV_PII_KEY,
        "LOGNAME": OPERATOR,
    }
    return CliRunner().invoke(main, list(args), env=env)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'audit.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


def demo(url: str) -> tuple[str, str]:
    """A migrated database with the demo data: (campaign id, admin key)."""
    assert promo(url, "db", "upgrade").exit_code == 0
    result = promo(url, "demo")
    assert result.exit_code == 0, result.stderr
    admin = next(line.split()[1] for line in result.stdout.splitlines() if "admin " in line)
    return result.stdout.split()[2], admin


def api(url: str, admin: str, method: str, path: str, **body: Any) -> Any:
    """One request to the app on ``url``'s database; the JSON answer."""

    async def run() -> Any:
        settings = make_settings(url)
        engine = create_engine(settings)
        try:
            transport = httpx.ASGITransport(app=create_app(settings, engine=engine))
            async with httpx.AsyncClient(transport=transport, base_url="http://promo.test") as c:
                response = await c.request(method, path, json=body or None, headers=bearer(admin))
                assert response.status_code < 300, response.text
                return response.json()
        finally:
            await engine.dispose()

    return asyncio.run(run())


def audit(url: str, admin: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = api(url, admin, "GET", "/v1/audit?limit=500")["items"]
    return items


def test_cli_keys_and_batches_are_audited_as_the_operator(database_url: str) -> None:
    campaign, admin = demo(database_url)
    before = len(audit(database_url, admin))

    created = promo(database_url, "keys", "create", "--role", "checkout", "--name", "till 3")
    assert created.exit_code == 0, created.stderr
    key_id = created.stderr.split()[3].rstrip(";")  # "created checkout key key_...; store"
    revoked = promo(database_url, "keys", "revoke", key_id)
    assert revoked.exit_code == 0, revoked.stderr
    generated = promo(
        database_url, "codes", "generate", "--campaign", campaign, "--count", "20",
        "--pattern", "AUD-########",
    )  # fmt: skip
    assert generated.exit_code == 0, generated.stderr
    batch_id = generated.stdout.strip()

    entries = audit(database_url, admin)[before:]
    assert [(e["actor"], e["key_id"], e["action"], e["target"]) for e in entries] == [
        (f"cli:{OPERATOR}", None, "key.create", key_id),
        (f"cli:{OPERATOR}", None, "key.revoke", key_id),
        (f"cli:{OPERATOR}", None, "code_batch.create", batch_id),
    ]
    assert {e["role"] for e in entries} == {"admin"}
    assert entries[0]["details"] == {"role": "checkout", "affiliate_id": None, "name": "till 3"}
    assert entries[2]["details"]["count"] == 20
    assert entries[2]["details"]["pattern"] == "AUD-########"
    assert created.stdout.strip() not in str(entries)


def test_cli_and_api_record_one_change_alike_but_for_the_actor(database_url: str) -> None:
    _, admin = demo(database_url)
    body = {"role": "marketer", "name": "twin"}
    by_api = api(database_url, admin, "POST", "/v1/keys", **body)
    by_cli = promo(database_url, "keys", "create", "--role", "marketer", "--name", "twin")
    assert by_cli.exit_code == 0, by_cli.stderr

    api_line, cli_line = audit(database_url, admin)[-2:]
    assert (api_line["actor"], cli_line["actor"]) == ("api", f"cli:{OPERATOR}")
    assert api_line["key_id"] is not None
    assert cli_line["key_id"] is None
    assert api_line["target"] == by_api["id"]
    assert api_line["details"] == cli_line["details"]


def test_a_refused_cli_change_leaves_no_audit_line(database_url: str) -> None:
    campaign, admin = demo(database_url)
    before = audit(database_url, admin)

    no_affiliate = promo(database_url, "keys", "create", "--role", "affiliate")
    too_many = promo(
        database_url, "codes", "generate", "--campaign", campaign, "--count", "5000",
        "--pattern", "AU-##",
    )  # fmt: skip
    unknown = promo(database_url, "keys", "revoke", "pk_nosuchkey")

    assert [r.exit_code for r in (no_affiliate, too_many, unknown)] == [1, 1, 1]
    assert audit(database_url, admin) == before
