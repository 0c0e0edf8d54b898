"""The committed OpenAPI document is the one the app generates and serves."""

from __future__ import annotations

import difflib
import json
from pathlib import Path

import httpx

from promo.app import create_app
from promo.openapi import render_openapi
from tests.conftest import make_settings

COMMITTED = Path(__file__).resolve().parents[2] / "openapi" / "openapi.json"
REGENERATE = "run `promo openapi` and commit openapi/openapi.json"


def test_committed_openapi_document_matches_the_generated_one() -> None:
    assert COMMITTED.is_file(), f"{COMMITTED} is missing: {REGENERATE}"
    committed = COMMITTED.read_text()
    generated = render_openapi()
    if committed != generated:
        diff = difflib.unified_diff(
            committed.splitlines(),
            generated.splitlines(),
            "openapi/openapi.json (committed)",
            "render_openapi() (generated)",
            lineterm="",
        )
        excerpt = "\n".join(list(diff)[:60])
        raise AssertionError(f"openapi/openapi.json is out of date: {REGENERATE}\n{excerpt}")


async def test_app_serves_the_generated_document_at_schema_openapi_json() -> None:
    app = create_app(make_settings("sqlite+aiosqlite:///:memory:"))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://promo.test") as client:
        response = await client.get("/schema/openapi.json")
    assert response.status_code == 200
    assert response.json() == json.loads(render_openapi())
