"""GET /v1/audit: who (key id and role) did what, to what, when; admin only.

Each administrative change writes its line in its own transaction, so a
refused change leaves none; details are what was asked, never a secret.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from promo.auth.roles import Role
from tests.support.api import (
    adjust,
    cart,
    create_affiliate,
    create_campaign,
    create_code,
    item,
    run_payouts,
    sell,
    with_key,
)
from tests.support.clock import FrozenClock
from tests.support.factories import bearer


@pytest.fixture
def admin(keys: dict[Role, str]) -> dict[str, str]:
    return bearer(keys[Role.ADMIN])


@pytest.fixture
def accountant(keys: dict[Role, str]) -> dict[str, str]:
    return bearer(keys[Role.ACCOUNTANT])


async def key_id(client: httpx.AsyncClient, headers: dict[str, str]) -> str:
    response = await client.get("/v1/key", headers=headers)
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


async def audit(client: httpx.AsyncClient, admin: dict[str, str]) -> list[dict[str, Any]]:
    """Every audit entry, following the cursor."""
    entries: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        response = await client.get("/v1/audit", params=params, headers=admin)
        assert response.status_code == 200, response.text
        page = response.json()
        entries.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return entries


def summary(entries: list[dict[str, Any]]) -> list[tuple[str, str, str | None]]:
    return [(e["role"], e["action"], e["target"]) for e in entries]


async def test_campaign_and_code_changes_are_audited_in_order(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    marketer: dict[str, str],
    clock: FrozenClock,
) -> None:
    campaign = await create_campaign(client, marketer, name="Audited")
    clock.advance(minutes=1)
    code = await create_code(client, marketer, campaign["id"], "audit-10", max_redemptions=5)
    clock.advance(minutes=1)
    response = await client.patch("/v1/codes/AUDIT10", json={"active": False}, headers=marketer)
    assert response.status_code == 200, response.text
    clock.advance(minutes=1)
    response = await client.patch(
        f"/v1/campaigns/{campaign['id']}", json={"name": "Renamed"}, headers=marketer
    )
    assert response.status_code == 200, response.text
    clock.advance(minutes=1)
    response = await client.patch(
        f"/v1/campaigns/{campaign['id']}", json={"status": "archived"}, headers=marketer
    )
    assert response.status_code == 200, response.text

    entries = await audit(client, admin)
    assert summary(entries) == [
        ("marketer", "campaign.create", campaign["id"]),
        ("marketer", "code.create", code["code"]),
        ("marketer", "code.update", code["code"]),
        ("marketer", "campaign.update", campaign["id"]),
        ("marketer", "campaign.update", campaign["id"]),
    ]
    marketer_id = await key_id(client, marketer)
    assert {e["key_id"] for e in entries} == {marketer_id}
    ids = [e["id"] for e in entries]
    assert ids == sorted(ids)
    assert [e["at"] for e in entries] == [
        "2026-07-01T12:00:00Z",
        "2026-07-01T12:01:00Z",
        "2026-07-01T12:02:00Z",
        "2026-07-01T12:03:00Z",
        "2026-07-01T12:04:00Z",
    ]
    created, code_created, disabled, renamed, archived = (e["details"] for e in entries)
    assert created["name"] == "Audited"
    assert created["discount"] == {
        "type": "percentage",
        "percent_off": "20",
        "max_discount": 5000,
        "allocation": "across",
        "max_quantity": None,
    }
    assert code_created == {
        "code": "audit-10",
        "max_redemptions": 5,
        "affiliate_id": None,
        "channel": None,
        "starts_at": None,
        "expires_at": None,
        "bound": False,
    }
    assert disabled == {"active": False}
    assert renamed == {"name": "Renamed"}
    assert archived == {"status": "archived"}


async def test_key_creation_and_revocation_are_audited_without_the_key(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    response = await client.post(
        "/v1/keys", json={"role": "checkout", "name": "till 3"}, headers=admin
    )
    assert response.status_code == 201, response.text
    created = response.json()
    response = await client.post(f"/v1/keys/{created['id']}/revoke", headers=admin)
    assert response.status_code == 200, response.text

    entries = await audit(client, admin)
    assert summary(entries) == [
        ("admin", "key.create", created["id"]),
        ("admin", "key.revoke", created["id"]),
    ]
    assert entries[0]["details"] == {"role": "checkout", "affiliate_id": None, "name": "till 3"}
    assert {e["key_id"] for e in entries} == {await key_id(client, admin)}
    listing = (await client.get("/v1/audit", headers=admin)).text
    secret = created["key"]
    assert secret not in listing
    assert secret.removeprefix(created["prefix"]) not in listing


async def test_payouts_and_ledger_adjustments_are_audited_once(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    marketer: dict[str, str],
    checkout: dict[str, str],
    accountant: dict[str, str],
    clock: FrozenClock,
) -> None:
    campaign = await create_campaign(client, marketer, commission={"percent": 10})
    anna = await create_affiliate(client, marketer, "Anna Audit", holding_days=0)
    await create_code(client, marketer, campaign["id"], "ANNA10", affiliate_id=anna["id"])
    await sell(client, checkout, "ANNA10", 10_000)
    as_of = clock.advance(hours=1)

    paid = await run_payouts(client, accountant, as_of, key="payout-1")
    assert paid.status_code == 201, paid.text
    payout_ids = [p["id"] for p in paid.json()["payouts"]]
    assert len(payout_ids) == 1
    body = {"affiliate_id": anna["id"], "currency": "EUR", "commission": -150, "note": "fix"}
    adjusted = await adjust(client, accountant, key="adjust-1", **body)
    assert adjusted.status_code == 201, adjusted.text
    # Replays answer from the first run and change nothing: no second line.
    assert (await run_payouts(client, accountant, as_of, key="payout-1")).status_code == 201
    assert (await adjust(client, accountant, key="adjust-1", **body)).status_code == 201

    entries = await audit(client, admin)
    assert summary(entries) == [
        ("marketer", "campaign.create", campaign["id"]),
        ("marketer", "affiliate.create", anna["id"]),
        ("marketer", "code.create", "ANNA10"),
        ("accountant", "payouts.run", None),
        ("accountant", "ledger.adjustment", adjusted.json()["id"]),
    ]
    accountant_id = await key_id(client, accountant)
    assert entries[3]["key_id"] == entries[4]["key_id"] == accountant_id
    assert entries[3]["details"] == {"as_of": as_of.isoformat(), "payouts": payout_ids}
    assert entries[4]["details"] == body


async def test_code_batches_are_audited(
    client: httpx.AsyncClient, admin: dict[str, str], marketer: dict[str, str]
) -> None:
    campaign = await create_campaign(client, marketer)
    response = await client.post(
        f"/v1/campaigns/{campaign['id']}/code-batches",
        json={"count": 3, "pattern": "AUD-####-####"},
        headers=marketer,
    )
    assert response.status_code == 201, response.text
    batch = response.json()
    response = await client.patch(
        f"/v1/code-batches/{batch['id']}", json={"active": False}, headers=marketer
    )
    assert response.status_code == 200, response.text

    entries = await audit(client, admin)
    assert summary(entries)[1:] == [
        ("marketer", "code_batch.create", batch["id"]),
        ("marketer", "code_batch.update", batch["id"]),
    ]
    assert entries[2]["details"] == {"active": False, "codes_updated": 3}


async def test_refused_changes_leave_no_audit_line(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    marketer: dict[str, str],
    accountant: dict[str, str],
) -> None:
    campaign = await create_campaign(client, marketer)
    await create_code(client, marketer, campaign["id"], "TAKEN10")
    archived = await client.patch(
        f"/v1/campaigns/{campaign['id']}", json={"status": "archived"}, headers=marketer
    )
    assert archived.status_code == 200
    other = await create_campaign(client, marketer, name="Other")
    await create_code(client, marketer, other["id"], "TAKEN10")  # released by archiving
    before = await audit(client, admin)
    refused = [
        await client.post(
            f"/v1/campaigns/{other['id']}/codes", json={"code": "taken-1o"}, headers=marketer
        ),
        await client.patch(
            f"/v1/campaigns/{campaign['id']}", json={"name": "Too late"}, headers=marketer
        ),
        await client.post(
            "/v1/campaigns",
            json={
                "name": "Bad",
                "currency": "EUR",
                "starts_at": "2026-07-01T00:00:00Z",
                "discount": {"type": "percentage", "percent_off": 101},
            },
            headers=marketer,
        ),
        await client.post("/v1/keys/key_nope/revoke", headers=admin),
        await client.post(
            "/v1/ledger/adjustments",
            json={"affiliate_id": "aff_nope", "currency": "EUR", "commission": 1, "note": "x"},
            headers=with_key(accountant),
        ),
        await client.patch("/v1/codes/NOSUCH10", json={"active": False}, headers=marketer),
    ]
    assert [r.status_code for r in refused] == [409, 409, 422, 404, 404, 404]
    assert await audit(client, admin) == before


@pytest.mark.parametrize(
    "role", [Role.MARKETER, Role.CHECKOUT, Role.AFFILIATE, Role.ACCOUNTANT], ids=str
)
async def test_only_admin_reads_the_audit_log(
    client: httpx.AsyncClient, keys: dict[Role, str], role: Role
) -> None:
    response = await client.get("/v1/audit", headers=bearer(keys[role]))
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
    assert (await client.get("/v1/audit")).status_code == 401


async def test_reading_and_checkout_traffic_are_not_audited(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    marketer: dict[str, str],
    checkout: dict[str, str],
) -> None:
    campaign = await create_campaign(client, marketer)
    await create_code(client, marketer, campaign["id"], "QUIET10")
    before = await audit(client, admin)
    await client.get(f"/v1/campaigns/{campaign['id']}", headers=marketer)
    await client.get("/v1/keys", headers=admin)
    body = {"code": "QUIET10", "cart": cart(item("TSHIRT-1", 2, 2500))}
    assert (await client.post("/v1/validations", json=body, headers=checkout)).status_code == 200
    assert await audit(client, admin) == before


async def test_audit_filters_narrow_the_log_and_order_desc_reverses_it(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    marketer: dict[str, str],
    clock: FrozenClock,
) -> None:
    campaign = await create_campaign(client, marketer, name="Filtered")
    clock.advance(minutes=1)
    created = await client.post("/v1/keys", json={"role": "checkout"}, headers=admin)
    key = created.json()["id"]
    clock.advance(minutes=1)
    await client.post(f"/v1/keys/{key}/revoke", headers=admin)

    async def actions(**params: str) -> list[tuple[str, str | None]]:
        response = await client.get("/v1/audit", params=params, headers=admin)
        assert response.status_code == 200, response.text
        return [(e["action"], e["target"]) for e in response.json()["items"]]

    assert await actions(action="key.create") == [("key.create", key)]
    assert await actions(target=key) == [("key.create", key), ("key.revoke", key)]
    assert await actions(target=key, order="desc") == [("key.revoke", key), ("key.create", key)]
    assert await actions(role="marketer") == [("campaign.create", campaign["id"])]
    assert await actions(key_id=await key_id(client, marketer)) == [
        ("campaign.create", campaign["id"])
    ]
    assert await actions(actor="api", **{"from": "2026-07-01T12:01:00Z"}) == [
        ("key.create", key),
        ("key.revoke", key),
    ]
    assert await actions(**{"to": "2026-07-01T12:01:00Z"}) == [("campaign.create", campaign["id"])]
    assert await actions(actor="console") == []
    naive = await client.get("/v1/audit", params={"from": "2026-07-01T12:00"}, headers=admin)
    assert naive.status_code == 422
    assert naive.json()["errors"][0]["field"] == "from"
    wrong = await client.get("/v1/audit", params={"actor": "robot"}, headers=admin)
    assert wrong.status_code == 422
    assert wrong.json()["errors"][0]["field"] == "actor"
