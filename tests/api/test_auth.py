"""Authentication and roles through HTTP: 401 vs 403, revocation, key management."""

from __future__ import annotations

import re

import httpx
import pytest
from litestar import Litestar
from sqlalchemy.ext.asyncio import AsyncSession

from promo.auth.roles import Role
from tests.support.clock import FrozenClock
from tests.support.factories import bearer, make_affiliate

Client = httpx.AsyncClient

# Every authenticated route and the roles allowed on it (admin is always
# allowed). Later features add their routes here.
MARKETING = frozenset({Role.MARKETER})
CHECKOUT = frozenset({Role.CHECKOUT})
ACCOUNTING = frozenset({Role.ACCOUNTANT})
# Webhooks: each role for the events of its work (promo.webhooks.access).
WEBHOOKS = MARKETING | ACCOUNTING
ROUTE_ACCESS: list[tuple[str, str, frozenset[Role]]] = [
    ("GET", "/v1/keys", frozenset({Role.ADMIN})),
    ("POST", "/v1/keys", frozenset({Role.ADMIN})),
    ("POST", "/v1/keys/key_x/revoke", frozenset({Role.ADMIN})),
    ("GET", "/v1/key", frozenset(Role)),
    ("GET", "/v1/campaigns", MARKETING),
    ("POST", "/v1/campaigns", MARKETING),
    ("GET", "/v1/campaigns/cmp_x", MARKETING),
    ("PATCH", "/v1/campaigns/cmp_x", MARKETING),
    ("GET", "/v1/campaigns/cmp_x/codes", MARKETING),
    ("POST", "/v1/campaigns/cmp_x/codes", MARKETING),
    ("GET", "/v1/codes/SUMMER20", MARKETING),
    ("PATCH", "/v1/codes/SUMMER20", MARKETING),
    ("POST", "/v1/campaigns/cmp_x/code-batches", MARKETING),
    ("GET", "/v1/campaigns/cmp_x/code-batches", MARKETING),
    ("GET", "/v1/code-batches/bat_x", MARKETING),
    ("PATCH", "/v1/code-batches/bat_x", MARKETING),
    ("GET", "/v1/code-batches/bat_x/codes.csv", MARKETING),
    ("POST", "/v1/campaigns/cmp_x/code-batches/customers", MARKETING),
    ("GET", "/v1/code-batches/bat_x/customers.csv", MARKETING),
    ("POST", "/v1/campaigns/cmp_x/code-imports", MARKETING),
    ("GET", "/v1/campaigns/cmp_x/code-imports", MARKETING),
    ("GET", "/v1/campaigns/cmp_x/code-imports/imp_x", MARKETING),
    ("GET", "/v1/campaigns/cmp_x/code-imports/imp_x/errors", MARKETING),
    ("GET", "/v1/campaigns/cmp_x/code-imports/imp_x/errors.csv", MARKETING),
    ("POST", "/v1/validations", CHECKOUT),
    ("POST", "/v1/qualifications", CHECKOUT),
    ("POST", "/v1/affiliates", MARKETING),
    ("GET", "/v1/affiliates", MARKETING),
    ("GET", "/v1/affiliates/aff_x", MARKETING),
    ("PATCH", "/v1/affiliates/aff_x", MARKETING),
    ("POST", "/v1/affiliates/aff_x/codes", MARKETING),
    ("GET", "/v1/me", frozenset({Role.AFFILIATE})),
    ("GET", "/v1/me/codes", frozenset({Role.AFFILIATE})),
    ("GET", "/v1/me/campaigns", frozenset({Role.AFFILIATE})),
    ("GET", "/v1/me/redemptions", frozenset({Role.AFFILIATE})),
    ("GET", "/v1/me/earnings", frozenset({Role.AFFILIATE})),
    ("POST", "/v1/me/codes", frozenset({Role.AFFILIATE})),
    ("PATCH", "/v1/me/codes/SUMMER20", frozenset({Role.AFFILIATE})),
    ("POST", "/v1/redemptions", CHECKOUT),
    ("POST", "/v1/redemptions/red_x/rollback", CHECKOUT),
    ("GET", "/v1/redemptions", CHECKOUT | ACCOUNTING),
    ("GET", "/v1/redemptions/red_x", CHECKOUT | ACCOUNTING),
    ("POST", "/v1/reservations", CHECKOUT),
    ("POST", "/v1/reservations/res_x/confirm", CHECKOUT),
    ("POST", "/v1/reservations/res_x/release", CHECKOUT),
    ("GET", "/v1/reservations", CHECKOUT | MARKETING),
    ("GET", "/v1/reservations/res_x", CHECKOUT),
    ("GET", "/v1/ledger", ACCOUNTING),
    ("GET", "/v1/ledger/export", ACCOUNTING),
    ("POST", "/v1/ledger/adjustments", ACCOUNTING),
    ("POST", "/v1/payouts", ACCOUNTING),
    ("GET", "/v1/payouts", ACCOUNTING),
    ("GET", "/v1/payouts/pay_x", ACCOUNTING),
    ("POST", "/v1/payouts/preview", ACCOUNTING),
    ("GET", "/v1/reports/commissions", ACCOUNTING),
    ("GET", "/v1/reports/performance", MARKETING),
    ("GET", "/v1/audit", frozenset({Role.ADMIN})),
    ("GET", "/v1/customers/lookup", frozenset({Role.ADMIN})),
    ("POST", "/v1/customers/erase", frozenset({Role.ADMIN})),
    ("GET", "/v1/jobs", frozenset({Role.ADMIN})),
    ("GET", "/v1/jobs/job_x", frozenset({Role.ADMIN})),
    ("POST", "/v1/jobs/job_x/retry", frozenset({Role.ADMIN})),
    ("POST", "/v1/webhooks", WEBHOOKS),
    ("GET", "/v1/webhooks", WEBHOOKS),
    ("GET", "/v1/webhooks/whk_x", WEBHOOKS),
    ("PATCH", "/v1/webhooks/whk_x", WEBHOOKS),
    ("POST", "/v1/webhooks/whk_x/rotate-secret", WEBHOOKS),
    ("GET", "/v1/webhooks/whk_x/deliveries", WEBHOOKS),
    ("POST", "/v1/webhooks/whk_x/redeliver", WEBHOOKS),
    ("POST", "/v1/commission-plans", MARKETING),
    ("GET", "/v1/commission-plans", MARKETING),
    ("GET", "/v1/commission-plans/cpl_x", MARKETING),
    ("PATCH", "/v1/commission-plans/cpl_x", MARKETING),
    ("GET", "/v1/commission-plans/cpl_x/revisions", MARKETING),
    ("POST", "/v1/conversions", CHECKOUT),
    ("POST", "/v1/conversions/cnv_x/reject", CHECKOUT | MARKETING),
    ("GET", "/v1/conversions", CHECKOUT | MARKETING | ACCOUNTING),
    ("GET", "/v1/conversions/cnv_x", CHECKOUT | MARKETING | ACCOUNTING),
    ("GET", "/v1/me/conversions", frozenset({Role.AFFILIATE})),
    ("POST", "/v1/referrals", CHECKOUT),
    ("GET", "/v1/referrals/FRIEND-X", CHECKOUT),
]


def test_every_authenticated_route_is_in_the_access_matrix(app: Litestar) -> None:
    """A new route cannot ship without its row above."""
    covered = {(method, path) for method, path, _ in ROUTE_ACCESS}
    missing = []
    for route in app.routes:
        if route.path.startswith(("/health", "/metrics", "/schema", "/console")):
            continue  # the console's access is tests/console/test_access.py
        pattern = re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", route.path) + "$")
        for method in getattr(route, "methods", set()) - {"HEAD", "OPTIONS"}:
            if not any(m == method and pattern.match(p) for m, p in covered):
                missing.append(f"{method} {route.path}")
    assert missing == []


@pytest.mark.parametrize(("method", "path", "allowed"), ROUTE_ACCESS)
async def test_each_role_is_allowed_or_forbidden_as_specified(
    client: Client, keys: dict[Role, str], method: str, path: str, allowed: frozenset[Role]
) -> None:
    for role, key in keys.items():
        response = await client.request(method, path, headers=bearer(key), json={})
        if role in allowed or role is Role.ADMIN:
            # Allowed: whatever the answer to this empty request, it is not about access.
            assert response.status_code not in {401, 403}, (role, response.text)
        else:
            assert response.status_code == 403, (role, response.text)
            assert response.json()["code"] == "forbidden"


@pytest.mark.parametrize(("method", "path", "allowed"), ROUTE_ACCESS)
async def test_missing_or_unknown_key_is_401(
    client: Client, method: str, path: str, allowed: object
) -> None:
    for headers in (
        {},
        bearer("pk_not-a-real-key"),
        {"Authorization": "Basic abc"},
        bearer("x" * 5000),
    ):
        response = await client.request(method, path, headers=headers)
        assert response.status_code == 401
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.json()["code"] == "unauthorized"


async def test_whoami_tells_the_caller_its_role(client: Client, keys: dict[Role, str]) -> None:
    response = await client.get("/v1/key", headers=bearer(keys[Role.AFFILIATE]))
    assert response.status_code == 200
    body = response.json()
    assert body["role"] == "affiliate"
    assert body["affiliate_id"].startswith("aff_")


async def test_created_key_works_once_shown_and_is_refused_after_revocation(
    client: Client, keys: dict[Role, str]
) -> None:
    admin = bearer(keys[Role.ADMIN])
    created = await client.post("/v1/keys", json={"role": "marketer", "name": "ci"}, headers=admin)
    assert created.status_code == 201
    body = created.json()
    assert body["key"].startswith("pk_")
    assert body["prefix"] == body["key"][:10]

    assert (await client.get("/v1/key", headers=bearer(body["key"]))).status_code == 200
    listed = (await client.get("/v1/keys", headers=admin)).json()["items"]
    assert body["id"] in {k["id"] for k in listed}
    assert all("key" not in k for k in listed), "listing never shows secrets"

    revoked = await client.post(f"/v1/keys/{body['id']}/revoke", headers=admin)
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    refused = await client.get("/v1/key", headers=bearer(body["key"]))
    assert refused.status_code == 401


async def test_affiliate_key_requires_an_existing_active_affiliate(
    client: Client, keys: dict[Role, str], db: AsyncSession, clock: FrozenClock
) -> None:
    admin = bearer(keys[Role.ADMIN])
    missing = await client.post("/v1/keys", json={"role": "affiliate"}, headers=admin)
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["field"] == "affiliate_id"

    unknown = await client.post(
        "/v1/keys", json={"role": "affiliate", "affiliate_id": "aff_nope"}, headers=admin
    )
    assert unknown.status_code == 404

    not_affiliate = await client.post(
        "/v1/keys", json={"role": "checkout", "affiliate_id": "aff_nope"}, headers=admin
    )
    assert not_affiliate.status_code in {404, 422}


async def test_keys_of_a_deactivated_affiliate_are_refused(
    client: Client, keys: dict[Role, str], db: AsyncSession, clock: FrozenClock
) -> None:
    from promo.ids import Kind, encode

    affiliate = await make_affiliate(db, now=clock(), name="Bob")
    admin = bearer(keys[Role.ADMIN])
    created = await client.post(
        "/v1/keys",
        json={"role": "affiliate", "affiliate_id": encode(Kind.AFFILIATE, affiliate.id)},
        headers=admin,
    )
    assert created.status_code == 201
    key = created.json()["key"]
    assert (await client.get("/v1/key", headers=bearer(key))).status_code == 200

    affiliate.active = False
    await db.flush()
    assert (await client.get("/v1/key", headers=bearer(key))).status_code == 401


async def test_revoking_an_unknown_key_is_404(client: Client, keys: dict[Role, str]) -> None:
    response = await client.post("/v1/keys/key_unknown/revoke", headers=bearer(keys[Role.ADMIN]))
    assert response.status_code == 404
    assert response.json()["code"] == "key_not_found"
