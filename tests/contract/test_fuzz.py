"""Fuzz every operation of the committed OpenAPI document against a real server.

schemathesis generates valid and invalid requests for each operation of
openapi/openapi.json and sends them, as the admin, to `promo serve` over a
fresh SQLite database seeded with the demo data, whose campaign, affiliate and
code are the path ids. The fuzzing phase runs a bounded number of examples per
operation so the run stays well under a minute; the slower coverage phase
(boundary values, unexpected methods) is for a manual ``schemathesis run``.
Failures it found are kept as plain HTTP tests at the end of this module.

Checks, on every answer:
- never a 5xx (``not_a_server_error``);
- the answer conforms to the document: documented status, media type, headers
  and body schema; errors are RFC 9457 problems (``application/problem+json``)
  with a stable ``code`` (API.md), documented by promo.api_document.

Not checked against the document, and why:
- ``positive_data_acceptance``: data valid for the schema may still be refused
  by rules the schema cannot express (unknown ids: 404, an ISO-looking currency
  that is not one, a code taken: 409);
- ``negative_data_rejection``: requests are decoded leniently (Litestar's
  non-strict msgspec decoding reads ``"5"`` or ``5.0`` as the integer 5), so
  some schema-invalid bodies are rightly served;
- ``ignored_auth``, ``missing_required_header``, ``unsupported_method`` and the
  stateful checks: authentication, the Idempotency-Key header (documented as
  optional because its absence is answered by the handler, 400) and methods
  are covered by tests/api; the document has no links for stateful runs.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from promo.clock import utc_now
from promo.db import migrate
from promo.db.engine import create_engine, create_sessionmaker
from promo.demo import seed_demo
from promo.ids import Kind, encode
from promo.settings import Settings
from tests.conftest import TEST_SECRET, make_settings
from tests.support.factories import bearer
from tests.support.server import ServerProcess, start_server

COMMITTED = Path(__file__).resolve().parents[2] / "openapi" / "openapi.json"
PROBLEM = "application/problem+json"
EXAMPLES = 15

# Path ids of the demo data (the first campaign and affiliate of a fresh database),
# so that operations on one campaign, code or affiliate reach their logic, not a 404.
# Keys are left random: the fuzzer would revoke the admin key it runs with.
DEMO_CAMPAIGN, DEMO_AFFILIATE, DEMO_CODE = (
    encode(Kind.CAMPAIGN, 1),
    encode(Kind.AFFILIATE, 1),
    "SUMMER20",
)

schema = schemathesis.openapi.from_path(
    COMMITTED,
    config=SchemathesisConfig.from_dict(
        {
            # The coverage phase (deterministic boundary cases and unexpected methods, ~50 s
            # here) is left to a manual `schemathesis run`; what it found is kept below.
            "phases": {"coverage": {"enabled": False}},
            "parameters": {
                "path.campaign_id": DEMO_CAMPAIGN,
                "path.affiliate_id": DEMO_AFFILIATE,
                "path.code": DEMO_CODE,
            },
        }
    ),
)


@dataclass(frozen=True)
class Demo:
    server: ServerProcess
    admin: dict[str, str]


async def _seed(settings: Settings) -> dict[str, str]:
    engine = create_engine(settings)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            demo = await seed_demo(session, now=utc_now())
    finally:
        await engine.dispose()
    assert demo is not None
    assert encode(Kind.CAMPAIGN, demo.campaign_id) == DEMO_CAMPAIGN
    assert encode(Kind.AFFILIATE, demo.affiliate_id) == DEMO_AFFILIATE
    return demo.keys


@pytest.fixture(scope="module")
def demo() -> Iterator[Demo]:
    directory = Path(tempfile.mkdtemp(prefix="promo-fuzz-"))
    settings = make_settings(f"sqlite+aiosqlite:///{directory / 'fuzz.db'}")
    migrate.upgrade(settings)
    keys = asyncio.run(_seed(settings))
    # Limits high enough that fuzzed guesses reach the validation logic, not a 429.
    server = start_server(
        settings.database_url,
        workers=1,
        secret=TEST_SECRET,
        extra_env={
            "PROMO_THROTTLE_FAILURES_PER_KEY": "1000000",
            "PROMO_THROTTLE_FAILURES_PER_CUSTOMER": "1000000",
            "PROMO_THROTTLE_FAILURES_PER_IP": "1000000",
        },
    )
    try:
        yield Demo(server=server, admin=bearer(keys["admin"]))
    finally:
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_every_operation_answers_without_5xx_and_as_documented(
    case: schemathesis.Case, demo: Demo
) -> None:
    response = case.call(base_url=demo.server.url, headers=demo.admin, timeout=30)
    case.validate_response(
        response,
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_headers_conformance,
            response_schema_conformance,
        ],
    )
    if response.status_code < 400:
        return
    content_type = response.headers.get("content-type", [""])[0]
    assert content_type.startswith(PROBLEM), response.text
    problem = response.json()
    assert problem["status"] == response.status_code, problem
    assert isinstance(problem["code"], str), problem
    assert problem["code"], problem
    assert {"type", "title", "detail"} <= problem.keys(), problem


# --- what the fuzzing found, kept as plain HTTP tests --------------------------

DOCUMENT = json.loads(COMMITTED.read_text())


def documented_media_types(path: str, method: str, status: str) -> set[str]:
    responses = DOCUMENT["paths"][path][method]["responses"]
    found = responses.get(status) or responses.get(f"{status[0]}XX") or responses.get("default")
    return set((found or {}).get("content", {}))


@pytest.mark.parametrize("authorized", [True, False], ids=["with key", "without key"])
def test_options_request_is_not_a_server_error(demo: Demo, authorized: bool) -> None:
    headers = demo.admin if authorized else {}
    response = httpx.request("OPTIONS", f"{demo.server.url}/v1/campaigns", headers=headers)
    assert response.status_code < 500, response.text


def test_metrics_media_type_is_documented(demo: Demo) -> None:
    response = httpx.get(f"{demo.server.url}/metrics")
    assert response.status_code == 200
    served = response.headers["content-type"].split(";")[0]
    assert served in documented_media_types("/metrics", "get", "200")


def test_ledger_export_media_types_are_documented(demo: Demo) -> None:
    response = httpx.get(
        f"{demo.server.url}/v1/ledger/export", params={"format": "jsonl"}, headers=demo.admin
    )
    assert response.status_code == 200
    served = response.headers["content-type"].split(";")[0]
    assert served in documented_media_types("/v1/ledger/export", "get", "200")


def test_error_answers_are_documented_as_problem_details(demo: Demo) -> None:
    response = httpx.get(f"{demo.server.url}/v1/campaigns/cmp_nosuch", headers=demo.admin)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith(PROBLEM)
    assert PROBLEM in documented_media_types("/v1/campaigns/{campaign_id}", "get", "404")
