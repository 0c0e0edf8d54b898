"""/v1/conversions: actions without an order, priced by the plan's fee per kind,
held, rejectable, unique per kind and external id; /v1/me/conversions."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from promo.auth.roles import Role
from tests.support.api import create_affiliate, create_campaign, create_code, ledger_items, sell
from tests.support.clock import FrozenClock
from tests.support.factories import bearer

PLAN = {
    "name": "Leads",
    "currency": "EUR",
    "percent": "10",
    "action_fees": {"lead": 200, "assist": 1500},
}


@pytest.fixture
def accountant(keys: dict[Role, str]) -> dict[str, str]:
    return bearer(keys[Role.ACCOUNTANT])


@pytest.fixture
async def program(client: httpx.AsyncClient, marketer: dict[str, str]) -> dict[str, Any]:
    """A plan on a campaign, Anna's code ANNA on it, and Paula, a prescriber
    with the plan as her own (and her API key)."""
    plan = (await client.post("/v1/commission-plans", json=PLAN, headers=marketer)).json()
    campaign = await create_campaign(
        client, marketer, rules={"exclude_skus": []}, commission={"plan_id": plan["id"]}
    )
    anna = await create_affiliate(client, marketer, "Anna", holding_days=14, create_key=True)
    paula = await create_affiliate(
        client, marketer, "Paula", commission={"plan_id": plan["id"]}, holding_days=0
    )
    await create_code(client, marketer, campaign["id"], "ANNA", affiliate_id=anna["id"])
    return {"plan": plan, "campaign": campaign, "anna": anna, "paula": paula}


async def report(
    client: httpx.AsyncClient, headers: dict[str, str], key: str = "k-1", **body: Any
) -> httpx.Response:
    return await client.post(
        "/v1/conversions", json=body, headers={**headers, "Idempotency-Key": key}
    )


async def test_a_lead_through_a_code_is_priced_held_and_recorded(
    client: httpx.AsyncClient,
    checkout: dict[str, str],
    accountant: dict[str, str],
    clock: FrozenClock,
    program: dict[str, Any],
) -> None:
    response = await report(
        client, checkout, kind="lead", external_id="L-1", code="anna", value=900
    )
    assert response.status_code == 201, response.text
    lead = response.json()
    assert (lead["affiliate_id"], lead["code"], lead["commission"], lead["status"]) == (
        program["anna"]["id"],
        "ANNA",
        200,
        "pending",
    )
    assert (lead["plan_id"], lead["plan_revision"], lead["value"]) == (
        program["plan"]["id"],
        1,
        900,
    )
    entries = [e for e in await ledger_items(client, accountant) if e["kind"] == "conversion"]
    assert [(e["conversion_id"], e["commission"], e["affiliate_id"]) for e in entries] == [
        (lead["id"], 200, program["anna"]["id"])
    ]
    assert entries[0]["available_at"].startswith((clock() + timedelta(days=14)).date().isoformat())
    assert entries[0]["status"] == "pending"


async def test_a_duplicate_is_refused_and_a_retry_replayed(
    client: httpx.AsyncClient, checkout: dict[str, str], program: dict[str, Any]
) -> None:
    first = await report(client, checkout, kind="lead", external_id="L-2", code="ANNA")
    retry = await report(client, checkout, kind="lead", external_id="L-2", code="ANNA")
    assert (first.status_code, retry.status_code) == (201, 201)
    assert retry.json() == first.json()
    assert retry.headers["Idempotent-Replayed"] == "true"
    again = await report(client, checkout, key="k-2", kind="lead", external_id="L-2", code="ANNA")
    assert again.status_code == 409, again.text
    assert again.json()["code"] == "conversion_duplicate"
    other_kind = await report(
        client, checkout, key="k-3", kind="assist", external_id="L-2", code="ANNA"
    )
    assert other_kind.status_code == 201, other_kind.text


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"kind": "signup", "external_id": "S-1", "code": "ANNA"}, 409, "conversion_not_priced"),
        ({"kind": "lead", "external_id": "S-2"}, 422, "invalid_field"),
        ({"kind": "lead", "external_id": "S-3", "code": "NOPE"}, 422, "invalid_field"),
        ({"kind": "Lead", "external_id": "S-4", "code": "ANNA"}, 400, None),
        ({"kind": "lead", "external_id": "", "code": "ANNA"}, 400, None),
    ],
)
async def test_what_cannot_be_credited_is_refused_clearly(
    client: httpx.AsyncClient,
    checkout: dict[str, str],
    program: dict[str, Any],
    body: dict[str, Any],
    status: int,
    code: str | None,
) -> None:
    response = await report(client, checkout, **body)
    assert response.status_code in ((status,) if status != 400 else (400, 422)), response.text
    if code is not None:
        assert response.json()["code"] == code
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_the_key_is_required(
    client: httpx.AsyncClient, checkout: dict[str, str], program: dict[str, Any]
) -> None:
    response = await client.post(
        "/v1/conversions",
        json={"kind": "lead", "external_id": "N-1", "code": "ANNA"},
        headers=checkout,
    )
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "idempotency_key_required"


async def test_an_assist_credits_the_prescriber_beside_the_closing_code(
    client: httpx.AsyncClient,
    checkout: dict[str, str],
    accountant: dict[str, str],
    program: dict[str, Any],
) -> None:
    sold = await sell(client, checkout, "ANNA", 10_000, order_id="ord-assist")
    assert sold["commission"] == 800  # 20% off 10000, 10% of 8000
    response = await report(
        client,
        checkout,
        kind="assist",
        external_id="ord-assist",
        affiliate_id=program["paula"]["id"],
        order_id="ord-assist",
    )
    assert response.status_code == 201, response.text
    assist = response.json()
    assert (assist["affiliate_id"], assist["commission"], assist["status"]) == (
        program["paula"]["id"],
        1500,
        "approved",  # Paula's holding period is 0 days
    )
    by_affiliate = {
        e["affiliate_id"]: e["commission"]
        for e in await ledger_items(client, accountant)
        if e["order_id"] == "ord-assist"
    }
    assert by_affiliate == {program["anna"]["id"]: 800, program["paula"]["id"]: 1500}


async def test_a_rejection_reverses_exactly_once_and_is_audited(
    client: httpx.AsyncClient,
    keys: dict[Role, str],
    checkout: dict[str, str],
    marketer: dict[str, str],
    accountant: dict[str, str],
    program: dict[str, Any],
) -> None:
    lead = (await report(client, checkout, kind="lead", external_id="F-1", code="ANNA")).json()
    rejected = await client.post(
        f"/v1/conversions/{lead['id']}/reject", json={"reason": "fake lead"}, headers=marketer
    )
    assert rejected.status_code == 200, rejected.text
    assert (rejected.json()["status"], rejected.json()["reject_reason"]) == (
        "rejected",
        "fake lead",
    )
    twice = await client.post(f"/v1/conversions/{lead['id']}/reject", json={}, headers=checkout)
    assert (twice.status_code, twice.json()["code"]) == (409, "already_rejected")
    entries = [
        e for e in await ledger_items(client, accountant) if e["conversion_id"] == lead["id"]
    ]
    assert [(e["kind"], e["commission"]) for e in entries] == [
        ("conversion", 200),
        ("reversal", -200),
    ]
    missing = await client.post(
        "/v1/conversions/cnv_000000000000/reject", json={}, headers=marketer
    )
    assert missing.status_code == 404


async def test_an_affiliate_sees_its_own_conversions_only(
    client: httpx.AsyncClient,
    checkout: dict[str, str],
    marketer: dict[str, str],
    keys: dict[Role, str],
    program: dict[str, Any],
) -> None:
    await report(client, checkout, kind="lead", external_id="O-1", code="ANNA")
    await report(
        client,
        checkout,
        key="k-9",
        kind="lead",
        external_id="O-2",
        affiliate_id=program["paula"]["id"],
    )
    mine = await client.get("/v1/me/conversions", headers=bearer(program["anna"]["key"]))
    assert [c["external_id"] for c in mine.json()["items"]] == ["O-1"]
    other = await client.get("/v1/me/conversions", headers=bearer(keys[Role.AFFILIATE]))
    assert other.json()["items"] == []
    listed = await client.get(
        "/v1/conversions", params={"affiliate_id": program["paula"]["id"]}, headers=marketer
    )
    assert [c["external_id"] for c in listed.json()["items"]] == ["O-2"]
    forbidden = await client.get("/v1/conversions", headers=bearer(keys[Role.AFFILIATE]))
    assert forbidden.status_code == 403
