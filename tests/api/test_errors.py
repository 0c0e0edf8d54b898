"""Bad input gets a 4xx problem+json naming what is wrong, never a 500."""

from __future__ import annotations

import httpx
import pytest

from promo.auth.roles import Role
from tests.support.factories import bearer

PROBLEM = "application/problem+json"


async def post_raw(client: httpx.AsyncClient, key: str, body: bytes) -> httpx.Response:
    headers = {**bearer(key), "content-type": "application/json"}
    return await client.post("/v1/keys", content=body, headers=headers)


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body: dict[str, object] = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert {"type", "title", "detail"} <= body.keys()
    return body


async def test_unparseable_json_is_400(client: httpx.AsyncClient, keys: dict[Role, str]) -> None:
    assert_problem(await post_raw(client, keys[Role.ADMIN], b"{not json"), 400, "malformed_json")


async def test_missing_body_is_400(client: httpx.AsyncClient, keys: dict[Role, str]) -> None:
    assert_problem(await post_raw(client, keys[Role.ADMIN], b""), 400, "body_required")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"role": "admin", "bogus": 1}', "bogus"),
        (b'{"role": 5}', "role"),
        (b'{"role": "king"}', "role"),
        (b'{"role": "admin", "name": "' + b"x" * 201 + b'"}', "name"),
        (b"[]", "body"),
    ],
)
async def test_invalid_body_is_422_naming_the_field(
    client: httpx.AsyncClient, keys: dict[Role, str], body: bytes, field: str
) -> None:
    problem = assert_problem(
        await post_raw(client, keys[Role.ADMIN], body), 422, "validation_failed"
    )
    assert problem["errors"] == [{"field": field, "message": problem["errors"][0]["message"]}]  # type: ignore[index]
    assert str(problem["detail"]).startswith(f"{field}:")


async def test_oversize_body_is_413(client: httpx.AsyncClient, keys: dict[Role, str]) -> None:
    body = b'{"name": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    assert_problem(await post_raw(client, keys[Role.ADMIN], body), 413, "payload_too_large")


@pytest.mark.parametrize(
    ("query", "field"), [("limit=0", "limit"), ("limit=abc", "limit"), ("limit=501", "limit")]
)
async def test_invalid_query_parameter_is_422_naming_it(
    client: httpx.AsyncClient, keys: dict[Role, str], query: str, field: str
) -> None:
    response = await client.get(f"/v1/keys?{query}", headers=bearer(keys[Role.ADMIN]))
    problem = assert_problem(response, 422, "validation_failed")
    assert problem["errors"][0]["field"] == field  # type: ignore[index]


async def test_foreign_cursor_is_rejected(client: httpx.AsyncClient, keys: dict[Role, str]) -> None:
    response = await client.get("/v1/keys?cursor=zzz", headers=bearer(keys[Role.ADMIN]))
    assert_problem(response, 422, "invalid_cursor")


async def test_unknown_route_and_method_are_problems(
    client: httpx.AsyncClient, keys: dict[Role, str]
) -> None:
    assert_problem(await client.get("/v1/nothing-here"), 404, "not_found")
    response = await client.delete("/v1/keys", headers=bearer(keys[Role.ADMIN]))
    assert_problem(response, 405, "method_not_allowed")


async def test_key_pages_follow_the_cursor(
    client: httpx.AsyncClient, keys: dict[Role, str]
) -> None:
    admin = bearer(keys[Role.ADMIN])
    seen: list[str] = []
    url = "/v1/keys?limit=2"
    while True:
        page = (await client.get(url, headers=admin)).json()
        seen.extend(item["id"] for item in page["items"])
        if page["next_cursor"] is None:
            break
        url = f"/v1/keys?limit=2&cursor={page['next_cursor']}"
    assert len(seen) == len(set(seen)) == len(keys)
