"""Personal data through the API: refs instead of identities, access, erasure,
and a key rotation that keeps every customer's history counting (promo.pii)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from litestar import Litestar
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from promo.audit import AuditEntry
from promo.auth.roles import Role
from promo.checkout.models import CustomerOrders, CustomerUsage, IdempotencyRecord, Redemption
from promo.pii import DEV_PII_KEY, Keyring, is_tombstone
from tests.support.api import (
    cart,
    create_affiliate,
    create_campaign,
    create_code,
    item,
    redeem,
    rollback,
    sell,
    usage_of,
)
from tests.support.clock import FrozenClock
from tests.support.factories import bearer
from tests.support.pii import ref

ANA_ID, ANA_EMAIL = "cus_ana_4711", "Ana.Lima+shop@Example.com"
ANA_CANONICAL = "ana.lima@example.com"


@pytest.fixture
def admin(keys: dict[Role, str]) -> dict[str, str]:
    return bearer(keys[Role.ADMIN])


@pytest.fixture
def accountant(keys: dict[Role, str]) -> dict[str, str]:
    return bearer(keys[Role.ACCOUNTANT])


def order(code: str, order_id: str, **who: Any) -> dict[str, Any]:
    return {
        "code": code,
        "order_id": order_id,
        "cart": cart(item("TSHIRT-1", 2, 2500)),
        **who,
    }


def assert_no_identity(text: str) -> None:
    for clear in (ANA_ID, ANA_EMAIL, ANA_CANONICAL, "ana.lima", "Ana.Lima"):
        assert clear not in text


async def test_answers_name_the_customer_by_ref_and_a_checkout_finds_its_redemptions(
    client: httpx.AsyncClient, checkout: dict[str, str], marketer: dict[str, str]
) -> None:
    campaign = await create_campaign(client, marketer)
    await create_code(client, marketer, campaign["id"], "REFS10")
    made = await redeem(
        client,
        checkout,
        **order("REFS10", "ord_pd_1", customer_id=ANA_ID, customer_email=ANA_EMAIL),
    )
    assert made.status_code == 201, made.text
    assert_no_identity(made.text)
    body = made.json()
    assert body["customer_ref"] == ref(f"id:{ANA_ID}")
    assert "customer_id" not in body
    assert "customer_email" not in body
    read = await client.get(f"/v1/redemptions/{body['id']}", headers=checkout)
    assert read.json() == body
    # By the identity the checkout knows (either of them, any spelling), or by the ref.
    for query in (
        {"customer_id": ANA_ID},
        {"customer_email": "ANA.LIMA@example.com"},
        {"customer_ref": body["customer_ref"]},
        {"customer_ref": ref(f"email:{ANA_CANONICAL}")},
    ):
        listed = await client.get("/v1/redemptions", params=query, headers=checkout)
        assert listed.status_code == 200, listed.text
        assert [r["id"] for r in listed.json()["items"]] == [body["id"]], query
    for query in ({"customer_id": "cus_bob"}, {"customer_email": "bob@example.com"}):
        listed = await client.get("/v1/redemptions", params=query, headers=checkout)
        assert listed.json()["items"] == []
    refused = await client.get(
        "/v1/redemptions", params={"customer_email": "not-an-address"}, headers=checkout
    )
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "customer_email"
    refused = await client.get(
        "/v1/redemptions", params={"customer_ref": "email:ana@example.com"}, headers=checkout
    )
    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"][0]["field"] == "customer_ref"


async def test_no_row_holds_a_customer_in_clear(
    client: httpx.AsyncClient, checkout: dict[str, str], marketer: dict[str, str], db: AsyncSession
) -> None:
    campaign = await create_campaign(
        client,
        marketer,
        rules={"customer_ids": [ANA_ID, "cus_vip_0815"], "first_order_only": True},
        limits={"max_redemptions_per_customer": 1},
    )
    assert_no_identity(str(campaign))
    assert campaign["rules"]["customer_ids"] == []
    assert campaign["rules"]["customer_refs"] == [ref(f"id:{ANA_ID}"), ref("id:cus_vip_0815")]
    await create_code(client, marketer, campaign["id"], "ANAONLY")
    made = await redeem(
        client,
        checkout,
        **order(
            "ANAONLY", "ord_pd_2", customer_id=ANA_ID, customer_email=ANA_EMAIL, first_order=True
        ),
    )
    assert made.status_code == 201, made.text
    again = await redeem(
        client, checkout, **order("ANAONLY", "ord_pd_3", customer_email=ANA_EMAIL, first_order=True)
    )
    assert again.json()["code"] == "customer_not_eligible"
    rows = [
        *(await db.execute(select(Redemption.customer_ref, Redemption.customer_alt_ref))).all(),
        *(await db.execute(select(CustomerUsage.customer_ref))).all(),
        *(await db.execute(select(CustomerOrders.customer_ref))).all(),
        *(await db.execute(select(IdempotencyRecord.response_body))).all(),
        *(await db.execute(select(AuditEntry.details))).all(),
    ]
    assert_no_identity(repr(rows))
    assert ref(f"id:{ANA_ID}") in repr(rows)
    assert ref(f"email:{ANA_CANONICAL}") in repr(rows)


async def test_a_campaign_allow_list_patched_by_ids_or_refs_is_one_list(
    client: httpx.AsyncClient, marketer: dict[str, str]
) -> None:
    campaign = await create_campaign(client, marketer, rules={"customer_ids": ["cus_a_1"]})
    path = f"/v1/campaigns/{campaign['id']}"
    patched = await client.patch(
        path,
        json={"rules": {"customer_ids": ["cus_b_2"], "customer_refs": [ref("id:cus_c_3")]}},
        headers=marketer,
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["rules"]["customer_refs"] == [ref("id:cus_b_2"), ref("id:cus_c_3")]
    # A campaign read back and sent again keeps its list.
    kept = await client.patch(path, json={"rules": patched.json()["rules"]}, headers=marketer)
    assert kept.json()["rules"]["customer_refs"] == [ref("id:cus_b_2"), ref("id:cus_c_3")]
    removed = await client.patch(path, json={"rules": {"customer_ids": None}}, headers=marketer)
    assert removed.json()["rules"]["customer_refs"] == []


async def test_lookup_says_what_is_held_about_a_person_and_only_admins_may_ask(
    client: httpx.AsyncClient,
    checkout: dict[str, str],
    marketer: dict[str, str],
    admin: dict[str, str],
) -> None:
    campaign = await create_campaign(client, marketer, rules={"customer_ids": [ANA_ID]})
    await create_code(client, marketer, campaign["id"], "HELD10")
    first = await redeem(
        client,
        checkout,
        **order("HELD10", "ord_pd_4", customer_id=ANA_ID, customer_email=ANA_EMAIL),
    )
    second = await redeem(client, checkout, **order("HELD10", "ord_pd_5", customer_id=ANA_ID))
    assert (await rollback(client, checkout, second.json()["id"])).status_code == 200
    found = await client.get(
        "/v1/customers/lookup", params={"customer_email": ANA_EMAIL}, headers=admin
    )
    assert found.status_code == 200, found.text
    held = found.json()
    assert_no_identity(found.text)
    assert held["customer_refs"] == [ref(f"email:{ANA_CANONICAL}")]
    assert held["linked_refs"] == [ref(f"id:{ANA_ID}")]
    # Both redemptions are filed under the id the e-mail was given with.
    assert [r["id"] for r in held["redemptions"]] == [first.json()["id"], second.json()["id"]]
    assert [r["status"] for r in held["redemptions"]] == ["active", "rolled_back"]
    assert held["redemptions_total"] == 2
    by_id, by_email = ref(f"id:{ANA_ID}"), ref(f"email:{ANA_CANONICAL}")
    assert sorted((u["customer_ref"], u["used"]) for u in held["usage"]) == sorted(
        [(by_id, 1), (by_email, 1)]
    )
    assert {u["campaign_id"] for u in held["usage"]} == {campaign["id"]}
    assert sorted((o["customer_ref"], o["live"]) for o in held["orders"]) == sorted(
        [(by_id, 1), (by_email, 1)]
    )
    assert held["allow_lists"] == [campaign["id"]]
    assert held["stored_answers"] >= 3
    nobody = await client.get(
        "/v1/customers/lookup", params={"customer_id": "cus_nobody"}, headers=admin
    )
    assert nobody.json()["customer_refs"] == []
    assert nobody.json()["redemptions_total"] == 0
    for headers in (checkout, marketer):
        denied = await client.get(
            "/v1/customers/lookup", params={"customer_id": ANA_ID}, headers=headers
        )
        assert denied.status_code == 403
    empty = await client.get("/v1/customers/lookup", headers=admin)
    assert empty.status_code == 422
    assert empty.json()["errors"][0]["field"] == "customer_id"


async def totals(
    client: httpx.AsyncClient,
    headers: dict[str, dict[str, str]],
    campaign_id: str,
    affiliate_id: str,
    db: AsyncSession,
) -> dict[str, Any]:
    """Every figure a report, a total or an export gives about the program."""
    export = await client.get("/v1/ledger/export", headers=headers["accountant"])
    assert export.status_code == 200, export.text
    report = await client.get("/v1/reports/commissions", headers=headers["accountant"])
    assert report.status_code == 200, report.text
    usage_sum = await db.scalar(select(func.sum(CustomerUsage.used)))
    orders_sum = await db.scalar(select(func.sum(CustomerOrders.live)))
    distinct = await db.scalar(select(func.count(func.distinct(Redemption.customer_ref))))
    return {
        "usage": await usage_of(client, headers["marketer"], campaign_id, "ERASE10"),
        "export": export.text,
        "report": report.json(),
        "affiliate": (
            await client.get(f"/v1/affiliates/{affiliate_id}", headers=headers["marketer"])
        ).json(),
        "per_customer_uses": usage_sum,
        "live_orders": orders_sum,
        "distinct_customers": distinct,
        "redemptions": await db.scalar(select(func.count()).select_from(Redemption)),
    }


async def test_erasure_forgets_the_person_and_keeps_every_total(
    client: httpx.AsyncClient,
    checkout: dict[str, str],
    marketer: dict[str, str],
    admin: dict[str, str],
    accountant: dict[str, str],
    db: AsyncSession,
) -> None:
    headers = {"marketer": marketer, "accountant": accountant}
    partner = await create_affiliate(
        client, marketer, "Erin Partner", commission={"percent": "10", "fixed": None}
    )
    campaign = await create_campaign(
        client,
        marketer,
        limits={"max_redemptions_per_customer": 2},
        rules={"customer_ids": [ANA_ID, "cus_bob_1"]},
    )
    await create_code(client, marketer, campaign["id"], "ERASE10", affiliate_id=partner["id"])
    kept = await sell(
        client,
        checkout,
        "ERASE10",
        4000,
        order_id="ord_pd_6",
        customer_id=ANA_ID,
        customer_email=ANA_EMAIL,
        key="ana-first",
    )
    refunded = await sell(
        client, checkout, "ERASE10", 3000, order_id="ord_pd_7", customer_id=ANA_ID
    )
    partial = await rollback(client, checkout, refunded["id"], amount=1000)
    assert partial.status_code == 200, partial.text
    await sell(client, checkout, "ERASE10", 5000, order_id="ord_pd_8", customer_id="cus_bob_1")
    before = await totals(client, headers, campaign["id"], partner["id"], db)

    erased = await client.post(
        "/v1/customers/erase", json={"customer_email": ANA_EMAIL}, headers=admin
    )
    assert erased.status_code == 200, erased.text
    assert erased.json() == {
        "erased_refs": 2,
        "redemptions": 3,  # two filed under the id, one with the e-mail beside it
        "usage_counters": 2,
        "order_counters": 2,
        "allow_lists": 1,
        "stored_answers": erased.json()["stored_answers"],
        "bound_codes": 0,
    }
    assert erased.json()["stored_answers"] >= 3

    # Every figure is what it was; only the refs changed.
    after = await totals(client, headers, campaign["id"], partner["id"], db)
    assert after == before
    nothing = await client.get(
        "/v1/customers/lookup", params={"customer_id": ANA_ID}, headers=admin
    )
    assert nothing.json()["customer_refs"] == nothing.json()["linked_refs"] == []
    assert nothing.json()["redemptions_total"] == 0
    read = (await client.get(f"/v1/redemptions/{kept['id']}", headers=checkout)).json()
    assert is_tombstone(read["customer_ref"])
    assert read["customer_ref"] != ref(f"id:{ANA_ID}")
    # A retry of a stored answer replays it with the tombstone, not the ref.
    replay = await redeem(
        client,
        checkout,
        key="ana-first",
        code="ERASE10",
        cart=cart(item("SKU-1", 1, 4000), shipping=0),
        order_id="ord_pd_6",
        customer_id=ANA_ID,
        customer_email=ANA_EMAIL,
    )
    assert replay.headers.get("Idempotent-Replayed") == "true"
    assert replay.json()["customer_ref"] == read["customer_ref"]
    campaign_now = (await client.get(f"/v1/campaigns/{campaign['id']}", headers=marketer)).json()
    assert ref(f"id:{ANA_ID}") not in campaign_now["rules"]["customer_refs"]
    assert ref("id:cus_bob_1") in campaign_now["rules"]["customer_refs"]
    # An erased redemption still rolls back exactly, counters included.
    undone = await rollback(client, checkout, kept["id"])
    assert undone.status_code == 200, undone.text
    usage = await usage_of(client, marketer, campaign["id"], "ERASE10")
    assert usage["redemptions"] == before["usage"]["redemptions"] - 1
    assert await db.scalar(select(func.sum(CustomerUsage.used))) == before["per_customer_uses"] - 2
    # The audit says an erasure happened and what it changed, not whom.
    audit = (await client.get("/v1/audit", headers=admin)).json()["items"]
    entry = next(e for e in audit if e["action"] == "customer.erase")
    assert entry["target"] is None
    assert entry["details"] == erased.json()
    # Erasing again finds nothing more to change.
    again = await client.post("/v1/customers/erase", json={"customer_id": ANA_ID}, headers=admin)
    assert again.json()["erased_refs"] == again.json()["redemptions"] == 0
    refused = await client.post("/v1/customers/erase", json={}, headers=admin)
    assert refused.status_code == 422
    denied = await client.post(
        "/v1/customers/erase", json={"customer_id": ANA_ID}, headers=checkout
    )
    assert denied.status_code == 403


# --- key rotation -------------------------------------------------------------

NEW_KEY = "2:" + "n" * 40


async def test_a_key_rotation_keeps_every_limit_counting(
    client: httpx.AsyncClient,
    checkout: dict[str, str],
    marketer: dict[str, str],
    app: Litestar,
    clock: FrozenClock,
) -> None:
    limited = await create_campaign(client, marketer, limits={"max_redemptions_per_customer": 2})
    await create_code(client, marketer, limited["id"], "TWICE10")
    welcome = await create_campaign(client, marketer, rules={"first_order_only": True})
    await create_code(client, marketer, welcome["id"], "WELCOME10")
    old = await redeem(client, checkout, **order("TWICE10", "ord_rot_1", customer_email=ANA_EMAIL))
    assert old.status_code == 201
    assert old.json()["customer_ref"].startswith("dev:")

    before = app.state.keyring
    app.state.keyring = Keyring.parse(NEW_KEY, DEV_PII_KEY)
    try:
        new = await redeem(
            client, checkout, **order("TWICE10", "ord_rot_2", customer_email=ANA_EMAIL)
        )
        assert new.status_code == 201, new.text
        assert new.json()["customer_ref"].startswith("2:")
        third = await redeem(
            client, checkout, **order("TWICE10", "ord_rot_3", customer_email=ANA_EMAIL)
        )
        assert third.json()["code"] == "customer_limit_reached"
        checked = await client.post(
            "/v1/validations",
            json={
                k: v
                for k, v in order("TWICE10", "-", customer_email=ANA_EMAIL).items()
                if k != "order_id"
            },
            headers=checkout,
        )
        assert checked.json()["reason"] == "customer_limit_reached"
        # Not a first order either: the order made under the old key counts.
        first = await redeem(
            client,
            checkout,
            **order("WELCOME10", "ord_rot_4", customer_email=ANA_EMAIL, first_order=True),
        )
        assert first.json()["code"] == "first_order_only"
        # Rolling back the old redemption gives its use back, under its old ref.
        assert (await rollback(client, checkout, old.json()["id"])).status_code == 200
        fourth = await redeem(
            client, checkout, **order("TWICE10", "ord_rot_5", customer_email=ANA_EMAIL)
        )
        assert fourth.status_code == 201, fourth.text
        # The customer's redemptions are found under both keys.
        listed = await client.get(
            "/v1/redemptions", params={"customer_email": ANA_EMAIL}, headers=checkout
        )
        refs = {r["customer_ref"].split(":")[0] for r in listed.json()["items"]}
        assert refs == {"dev", "2"}
    finally:
        app.state.keyring = before
