"""Health, readiness, metrics and request ids."""

from __future__ import annotations

import httpx

from promo.auth.roles import Role
from tests.support.factories import bearer


async def test_liveness_and_readiness_need_no_key(client: httpx.AsyncClient) -> None:
    assert (await client.get("/health")).json() == {"status": "ok", "database": None}
    ready = await client.get("/health/ready")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok", "database": "ok"}


async def test_request_id_is_echoed_or_generated(client: httpx.AsyncClient) -> None:
    echoed = await client.get("/health", headers={"X-Request-ID": "abc-123"})
    assert echoed.headers["x-request-id"] == "abc-123"
    generated = await client.get("/health", headers={"X-Request-ID": "bad id\twith spaces"})
    assert generated.headers["x-request-id"] not in {"", "bad id\twith spaces"}
    unauthorized = await client.get("/v1/keys")
    assert unauthorized.headers["x-request-id"]


async def test_metrics_count_requests_per_route_template(
    client: httpx.AsyncClient, keys: dict[Role, str]
) -> None:
    await client.post("/v1/keys/key_unknown/revoke", headers=bearer(keys[Role.ADMIN]))
    metrics = await client.get("/metrics")
    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain")
    text = metrics.text
    assert "promo_requests_total" in text
    assert "promo_request_duration_seconds_bucket" in text
    # Routes are labelled by template, so ids do not explode the label space.
    assert 'path="/v1/keys/{key_id}/revoke",status_code="404"' in text
    assert "key_unknown" not in text
