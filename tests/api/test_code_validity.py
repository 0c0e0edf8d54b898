"""Codes of their own over HTTP: a code's window, codes bound to one customer,
batches whose codes expire, and codes issued to an uploaded list of customers."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from promo import retention
from promo.audit import AuditEntry
from promo.auth.roles import Role
from promo.codes.models import Code, CodeBatchCustomer
from promo.ids import Kind, decode
from tests.support.api import cart, create_campaign, create_code, instant, item
from tests.support.clock import FrozenClock
from tests.support.factories import bearer
from tests.support.pii import ref

Client = httpx.AsyncClient
Headers = dict[str, str]
TSHIRTS = cart(item("TSHIRT-1", 2, 2500, "summer", "tops"))


async def validate(client: Client, checkout: Headers, code: str, **body: Any) -> dict[str, Any]:
    response = await client.post(
        "/v1/validations", json={"code": code, "cart": TSHIRTS, **body}, headers=checkout
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def issue(
    client: Client, marketer: Headers, campaign_id: str, body: str, expect: int = 201, **query: Any
) -> dict[str, Any]:
    response = await client.post(
        f"/v1/campaigns/{campaign_id}/code-batches/customers",
        params={"pattern": "WB-######", **query},
        content=body.encode(),
        headers={**marketer, "content-type": "text/csv"},
    )
    assert response.status_code == expect, response.text
    result: dict[str, Any] = response.json()
    return result


# --- a code's own window ------------------------------------------------------


async def test_a_code_expires_at_its_own_end_inside_its_campaigns_window(
    client: Client, marketer: Headers, checkout: Headers, clock: FrozenClock
) -> None:
    campaign = await create_campaign(client, marketer)
    ends = clock() + timedelta(days=1)
    created = await create_code(
        client, marketer, campaign["id"], "SORRY10", expires_at=instant(ends)
    )
    assert (created["starts_at"], created["bound"]) == (None, False)
    assert (await validate(client, checkout, "SORRY10"))["valid"] is True
    clock.advance(days=1, seconds=1)
    refused = await validate(client, checkout, "sorry-10")
    assert (refused["valid"], refused["reason"]) == (False, "expired")
    assert refused["details"] == {"ended_at": ends.isoformat()}


async def test_a_code_that_starts_later_is_not_started_until_then(
    client: Client, marketer: Headers, checkout: Headers, clock: FrozenClock
) -> None:
    campaign = await create_campaign(client, marketer)
    starts = clock() + timedelta(hours=2)
    await create_code(client, marketer, campaign["id"], "LATER10", starts_at=instant(starts))
    refused = await validate(client, checkout, "LATER10")
    assert (refused["reason"], refused["details"]) == (
        "not_started",
        {"starts_at": starts.isoformat()},
    )
    clock.advance(hours=2)
    assert (await validate(client, checkout, "LATER10"))["valid"] is True


async def test_a_window_that_ends_before_it_starts_is_422_naming_expires_at(
    client: Client, marketer: Headers, clock: FrozenClock
) -> None:
    campaign = await create_campaign(client, marketer)
    response = await client.post(
        f"/v1/campaigns/{campaign['id']}/codes",
        json={"code": "BACK10", "starts_at": instant(clock()), "expires_at": instant(clock())},
        headers=marketer,
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "expires_at"


async def test_patch_sets_and_clears_a_codes_window(
    client: Client, marketer: Headers, checkout: Headers, clock: FrozenClock
) -> None:
    campaign = await create_campaign(client, marketer)
    await create_code(client, marketer, campaign["id"], "FLASH10")
    past = instant(clock() - timedelta(minutes=1))
    patched = await client.patch("/v1/codes/flash10", json={"expires_at": past}, headers=marketer)
    assert patched.status_code == 200, patched.text
    assert (await validate(client, checkout, "FLASH10"))["reason"] == "expired"
    cleared = await client.patch("/v1/codes/flash10", json={"expires_at": None}, headers=marketer)
    assert cleared.json()["expires_at"] is None
    assert (await validate(client, checkout, "FLASH10"))["valid"] is True
    crossed = await client.patch(
        "/v1/codes/flash10",
        json={"starts_at": instant(clock()), "expires_at": past},
        headers=marketer,
    )
    assert crossed.status_code == 422
    assert crossed.json()["errors"][0]["field"] == "expires_at"


# --- a code bound to one customer -----------------------------------------------


async def test_a_code_bound_to_an_email_admits_that_mailbox_only_and_never_shows_it(
    client: Client, marketer: Headers, checkout: Headers, db: AsyncSession
) -> None:
    campaign = await create_campaign(client, marketer)
    created = await create_code(
        client, marketer, campaign["id"], "APOLOGY10", customer_email="Ana.Bound@example.com"
    )
    assert created["bound"] is True
    assert "customer_email" not in created
    stored = await db.scalar(select(Code.customer_ref).where(Code.code == "APOLOGY10"))
    assert stored == ref("email:ana.bound@example.com")
    ok = await validate(client, checkout, "APOLOGY10", customer_email="ana.bound+x@example.com")
    assert ok["valid"] is True
    other = await validate(client, checkout, "APOLOGY10", customer_email="bob@example.com")
    assert other["reason"] == "customer_not_eligible"
    nobody = await validate(client, checkout, "APOLOGY10")
    assert nobody["reason"] == "customer_not_eligible"
    details = await db.scalar(select(AuditEntry.details).where(AuditEntry.action == "code.create"))
    assert details is not None
    assert details["bound"] is True
    assert "customer_email" not in details


async def test_a_code_bound_to_a_customer_id_refuses_another_id(
    client: Client, marketer: Headers, checkout: Headers
) -> None:
    campaign = await create_campaign(client, marketer)
    await create_code(client, marketer, campaign["id"], "WINBACK10", customer_id="cus-bound-1")
    assert (await validate(client, checkout, "WINBACK10", customer_id="cus-bound-1"))["valid"]
    other = await validate(client, checkout, "WINBACK10", customer_id="cus-bound-2")
    assert other["reason"] == "customer_not_eligible"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"customer_id": "c-1", "customer_email": "c@example.com"}, "customer_email"),
        ({"customer_email": "not-an-address"}, "customer_email"),
    ],
)
async def test_a_binding_given_twice_or_not_an_address_is_422(
    client: Client, marketer: Headers, body: dict[str, str], field: str
) -> None:
    campaign = await create_campaign(client, marketer)
    response = await client.post(
        f"/v1/campaigns/{campaign['id']}/codes", json={"code": "TWICE10", **body}, headers=marketer
    )
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == field


# --- batches whose codes expire -------------------------------------------------


async def test_each_code_of_a_batch_expires_valid_for_after_issue(
    client: Client, marketer: Headers, db: AsyncSession, clock: FrozenClock
) -> None:
    campaign = await create_campaign(client, marketer)
    response = await client.post(
        f"/v1/campaigns/{campaign['id']}/code-batches",
        json={"count": 20, "pattern": "DAY-######", "valid_for": "PT36H"},
        headers=marketer,
    )
    assert response.status_code == 201, response.text
    batch = response.json()
    expected = clock() + timedelta(hours=36)
    assert batch["valid_for"] == "P1DT43200S"
    assert batch["expires_at"] == expected.isoformat().replace("+00:00", "Z")
    ends = set(
        await db.scalars(
            select(Code.expires_at).where(Code.batch_id == decode(Kind.CODE_BATCH, batch["id"]))
        )
    )
    assert ends == {expected}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"valid_for": "PT0S"}, "valid_for"),
        ({"valid_for": "-P1D"}, "valid_for"),
        ({"valid_for": "P3651D"}, "valid_for"),
        ({"valid_for": "P1Y"}, "valid_for"),
        ({"valid_for": "P1D", "expires_at": "2026-09-01T00:00:00Z"}, "expires_at"),
        ({"expires_at": "2026-01-01T00:00:00Z"}, "expires_at"),
    ],
)
async def test_a_bad_validity_of_a_batch_is_422_naming_the_field(
    client: Client, marketer: Headers, body: dict[str, str], field: str
) -> None:
    campaign = await create_campaign(client, marketer)
    response = await client.post(
        f"/v1/campaigns/{campaign['id']}/code-batches",
        json={"count": 5, "pattern": "BAD-######", **body},
        headers=marketer,
    )
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == field


# --- codes issued to a list of customers ---------------------------------------


async def test_a_customer_list_gets_one_bound_code_each_and_its_download(
    client: Client, marketer: Headers, db: AsyncSession, clock: FrozenClock
) -> None:
    campaign = await create_campaign(client, marketer)
    listed = "customer\nlist-cus-1\nList.Ana@example.com\n=list-cus-3,ignored\n"
    batch = await issue(client, marketer, campaign["id"], listed, valid_for="P30D")
    assert (batch["status"], batch["count"], batch["generated"]) == ("done", 3, 3)
    assert batch["customers_until"] is not None
    codes = list(
        await db.scalars(select(Code).where(Code.batch_id == decode(Kind.CODE_BATCH, batch["id"])))
    )
    assert {c.customer_ref for c in codes} == {
        ref("id:list-cus-1"),
        ref("email:list.ana@example.com"),
        ref("id:=list-cus-3"),
    }
    assert {c.expires_at for c in codes} == {clock() + timedelta(days=30)}
    kept = list(await db.scalars(select(CodeBatchCustomer.given)))
    assert len(kept) == 3
    assert not any("list" in (given or "").lower() for given in kept)

    download = await client.get(f"/v1/code-batches/{batch['id']}/customers.csv", headers=marketer)
    assert download.status_code == 200
    rows = list(csv.reader(io.StringIO(download.text)))
    assert rows[0] == ["customer", "code"]
    assert [r[0] for r in rows[1:]] == ["list-cus-1", "List.Ana@example.com", "'=list-cus-3"]
    assert sorted(r[1] for r in rows[1:]) == sorted(c.code for c in codes)

    clock.advance(days=7)
    gone = await client.get(f"/v1/code-batches/{batch['id']}/customers.csv", headers=marketer)
    assert (gone.status_code, gone.json()["code"]) == (404, "customer_list_purged")
    purged = await retention.purge(db, retention.Retention(24 * 7, 400), now=clock())
    assert purged.customer_lists == 3
    assert await db.scalar(select(CodeBatchCustomer.id)) is None


async def test_an_issued_code_works_for_its_customer_only(
    client: Client, marketer: Headers, checkout: Headers, db: AsyncSession
) -> None:
    campaign = await create_campaign(client, marketer)
    batch = await issue(client, marketer, campaign["id"], "issued-cus-1\nissued-cus-2\n")
    by_customer = {
        ref_: code
        for code, ref_ in await db.execute(
            select(Code.code, Code.customer_ref).where(
                Code.batch_id == decode(Kind.CODE_BATCH, batch["id"])
            )
        )
    }
    first = by_customer[ref("id:issued-cus-1")]
    assert (await validate(client, checkout, first, customer_id="issued-cus-1"))["valid"]
    other = await validate(client, checkout, first, customer_id="issued-cus-2")
    assert other["reason"] == "customer_not_eligible"


async def test_a_large_list_is_issued_in_the_background(client: Client, marketer: Headers) -> None:
    campaign = await create_campaign(client, marketer)
    listed = "".join(f"bulk-{n}\n" for n in range(1200))
    batch = await issue(
        client, marketer, campaign["id"], listed, expect=202, pattern="BULK-########"
    )
    shown = await client.get(f"/v1/code-batches/{batch['id']}", headers=marketer)
    assert (shown.json()["status"], shown.json()["generated"]) == ("done", 1200)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("a-1\nnot@an@address\na-1\n", ["line 2:", "line 3: the same customer as line 1"]),
        ("customer\n\n", ["no customer in the list"]),
        ("\xff\xfe", ["must be UTF-8 text"]),
    ],
)
async def test_a_bad_customer_list_is_refused_by_line_and_creates_nothing(
    client: Client, marketer: Headers, db: AsyncSession, body: str, expected: list[str]
) -> None:
    campaign = await create_campaign(client, marketer)
    response = await client.post(
        f"/v1/campaigns/{campaign['id']}/code-batches/customers",
        params={"pattern": "WB-######"},
        content=body.encode("latin-1"),
        headers={**marketer, "content-type": "text/csv"},
    )
    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    assert {e["field"] for e in errors} == {"customers"}
    for message, wanted in zip([e["message"] for e in errors], expected, strict=True):
        assert message.startswith(wanted) or wanted in message
    assert await db.scalar(select(CodeBatchCustomer.id)) is None


async def test_bad_settings_of_a_customer_list_are_422_naming_the_parameter(
    client: Client, marketer: Headers
) -> None:
    campaign = await create_campaign(client, marketer)
    for query, field in (({"valid_for": "soon"}, "valid_for"), ({"charset": "!"}, "charset")):
        response = await client.post(
            f"/v1/campaigns/{campaign['id']}/code-batches/customers",
            params={"pattern": "WB-######", **query},
            content=b"c-1\n",
            headers={**marketer, "content-type": "text/csv"},
        )
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["field"] == field


async def test_a_batch_not_issued_to_customers_has_no_customer_download(
    client: Client, marketer: Headers
) -> None:
    campaign = await create_campaign(client, marketer)
    made = await client.post(
        f"/v1/campaigns/{campaign['id']}/code-batches",
        json={"count": 3, "pattern": "PLAIN-######"},
        headers=marketer,
    )
    listed = await client.get(
        f"/v1/code-batches/{made.json()['id']}/customers.csv", headers=marketer
    )
    assert (listed.status_code, listed.json()["code"]) == (404, "customer_list_not_found")


async def test_erasing_a_customer_unbinds_its_codes_and_forgets_its_line_of_a_list(
    client: Client, marketer: Headers, checkout: Headers, db: AsyncSession, keys: dict[Role, str]
) -> None:
    campaign = await create_campaign(client, marketer)
    await create_code(client, marketer, campaign["id"], "GONE10", customer_id="erased-cus-1")
    await issue(client, marketer, campaign["id"], "erased-cus-1\nkept-cus-2\n")
    admin = bearer(keys[Role.ADMIN])
    erased = await client.post(
        "/v1/customers/erase", json={"customer_id": "erased-cus-1"}, headers=admin
    )
    assert erased.status_code == 200, erased.text
    assert erased.json()["bound_codes"] == 2
    refs = set(await db.scalars(select(Code.customer_ref).where(Code.customer_ref.is_not(None))))
    assert ref("id:erased-cus-1") not in refs
    assert ref("id:kept-cus-2") in refs
    still = await validate(client, checkout, "GONE10", customer_id="erased-cus-1")
    assert still["reason"] == "customer_not_eligible"
    given = list(await db.scalars(select(CodeBatchCustomer.given)))
    assert sorted(g is None for g in given) == [False, True]
