"""The privacy scan itself can fail: a planted clear e-mail or id is reported, a
ref is not (tests/support/privacy_scan.py runs over the whole suite)."""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

import httpx
import pytest

from promo.pii import Keyring
from tests.support.postgres import PostgresServer
from tests.support.privacy_scan import PrivacyScan, Trace
from tests.support.privacy_stores import copied_columns

pytest_plugins = ["pytester"]

REF = Keyring.parse("1:" + "k" * 32).ref("email", "planted@example.com")


def plant_sqlite(path: Path, *values: str) -> None:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE redemptions (id INTEGER PRIMARY KEY, customer_key TEXT)")
        db.executemany("INSERT INTO redemptions (customer_key) VALUES (?)", [(v,) for v in values])
    db.close()


def request(body: bytes) -> httpx.Request:
    return httpx.Request(
        "POST",
        "http://promo.test/v1/redemptions",
        content=body,
        headers={"content-type": "application/json"},
    )


def test_a_row_holding_a_planted_customer_email_is_reported(
    pytestconfig: pytest.Config, tmp_path: Path
) -> None:
    scan = PrivacyScan(pytestconfig)
    scan.current = Trace("planting")
    scan.on_request(request(b'{"customer_email": "Planted@Example.com", "customer_id": "c1"}'))
    plant_sqlite(tmp_path / "left.db", "email:planted@example.com", REF, "1:c1" + REF[4:])
    scan.scan_directory(tmp_path)
    assert [(f.identity, f.where) for f in scan.findings] == [
        (
            "e-mail 'Planted@Example.com'",
            f"SQLite file {tmp_path / 'left.db'}: redemptions.customer_key",
        )
    ]


def test_a_planted_row_in_a_postgresql_database_is_reported(
    pytestconfig: pytest.Config, postgres: PostgresServer
) -> None:
    name = f"promo_planted_{uuid.uuid4().hex[:8]}"
    postgres.create_database(name)
    try:
        postgres.psql(
            "CREATE TABLE t (n integer, j json, b bytea, s text);"  # noqa: S608 (a constant ref)
            "INSERT INTO t SELECT i, NULL, NULL, 'code ' || i FROM generate_series(1, 1000) i;"
            """INSERT INTO t VALUES (0, '{"customer_key": "id:c1"}',"""
            " convert_to('email:Planted@example.com', 'UTF8'), '" + REF + "');",
            name,
        )
        scan = PrivacyScan(pytestconfig)
        scan.current = Trace("planting")
        scan.on_request(request(b'{"customer_email": "planted@example.com", "customer_id": "c1"}'))
        scan.scan_postgres(postgres, name)
    finally:
        # Not drop_database: the suite's own scan would find what was planted.
        postgres.psql(f'DROP DATABASE "{name}" WITH (FORCE)')
    assert sorted(f.line() for f in scan.findings) == [
        f"e-mail 'planted@example.com' in PostgreSQL database {name}: t.b",
        f"id 'c1' in PostgreSQL database {name}: t.j",
    ]


def test_a_test_whose_rows_and_answers_hold_refs_only_has_no_finding(
    pytestconfig: pytest.Config,
) -> None:
    scan = PrivacyScan(pytestconfig)
    record = scan.current = Trace("clean")
    scan.on_request(request(b'{"customer_email": "planted@example.com", "customer_id": "c1"}'))
    record.cells += [("redemptions.customer_ref", REF), ("affiliates.email", "anna@example.com")]
    scan.on_response(request(b"{}"), httpx.Response(201, json={"customer_ref": REF}))
    assert scan.verdict(record) == []
    record.cells.append(("redemptions.customer_id", "c1"))
    assert [f.line() for f in scan.verdict(record)] == [
        "id 'c1' in database row, column redemptions.customer_id"
    ]


def test_a_postgresql_column_copy_is_read_value_by_value() -> None:
    answer = b'{"customer_email": "ana@example.com"}'
    marker = "--marker--"
    output = "\n".join(
        [
            f"{marker} redemptions.customer_key",
            "id:c1",
            f"{marker} idempotency_keys.response_body",
            f"\\\\x{answer.hex()}",  # a bytea as text: \x and hex, its backslash escaped
            f"{marker} ledger_entries.note",
            "a\\tb\u2028c",  # a tab escaped, a U+2028 as it is
            "",  # an empty note
            f"{marker} campaigns.code_prefix",
            "",
        ]
    )
    assert copied_columns(output, marker) == {
        "redemptions.customer_key": ["id:c1"],
        "idempotency_keys.response_body": [answer],
        "ledger_entries.note": ["a\tb\u2028c"],
    }


INNER = """
import logging
import sqlite3
import types

import httpx
import structlog


def echo(request):
    json = {"content-type": "application/json"}
    return httpx.Response(201, content=request.content, headers=json)


def quiet(request):
    return httpx.Response(201, json={})


def client(handler=echo):
    return httpx.Client(transport=httpx.MockTransport(handler), base_url="http://promo.test")


def test_an_answer_echoing_the_email(tmp_path):
    with client() as http:
        http.post("/v1/redemptions", json={"customer_email": "echo@example.com"})


def test_a_log_line_with_the_id():
    with client() as http:
        http.post("/v1/redemptions", json={"customer_ref": "x", "customer_id": "cus_logged"})
    logging.getLogger("promo.checkout").debug("refused customer %s", "cus_logged")
    structlog.get_logger("promo.throttle").warning("throttled", identity="customer:id:cus_logged")


def test_a_row_left_in_a_file(tmp_path):
    with client(quiet) as http:
        http.post("/v1/affiliates", json={"email": "partner@example.com"})
        http.post("/v1/validations", json={"customer_email": "left@example.com"})
        http.post("/v1/validations", json={"customer_email": "Partner+shop@example.com"})
    with sqlite3.connect(tmp_path / "left.db") as db:
        db.execute("CREATE TABLE t (v TEXT)")
        db.execute("INSERT INTO t VALUES ('email:left@example.com'), ('partner@example.com')")
    db.close()


def test_a_webhook_with_the_id():
    with client(quiet) as http:
        http.post("/v1/redemptions", json={"customer_id": "cus_hooked"})
    service = types.ModuleType("promo.fake_webhooks")  # promo's own code sends it
    code = "def deliver(http):\\n    http.post('/hooks', json={'customer': 'cus_hooked'})"
    exec(code, vars(service))
    with client(quiet) as http:
        service.deliver(http)


def test_without_identities():
    assert True
"""


def test_findings_fail_their_test_and_the_run(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_inner=INNER)
    result = pytester.runpytest(
        "-p", "tests.support.privacy_scan", "-p", "no:cacheprovider", "-p", "no:asyncio"
    )  # fmt: skip
    result.assert_outcomes(passed=5, errors=3)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_an_answer_echoing_the_email*",
            "*e-mail 'echo@example.com' in response of POST /v1/redemptions (201)",
            "*ERROR at teardown of test_a_log_line_with_the_id*",
            "*id 'cus_logged' in log record promo.checkout DEBUG 'refused customer cus_logged'",
            "*id 'cus_logged' in structlog event 'throttled'",
            "*ERROR at teardown of test_a_webhook_with_the_id*",
            "*id 'cus_hooked' in request POST http://promo.test/hooks sent by promo",
            "*privacy scan*",
            "*5 findings in 3 tests (errors at their teardown)",
            "*1 findings in what the session left behind",
            "*e-mail 'left@example.com' in SQLite file */left.db: t.v*",
        ]
    )
    assert "partner@example.com" not in result.stdout.str()
    assert result.ret == pytest.ExitCode.TESTS_FAILED
