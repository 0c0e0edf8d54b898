"""Pattern batches through HTTP, on SQLite and PostgreSQL (COPY path on PostgreSQL).

These tests run inside the rolled-back transaction of the API suite; there
the app runs a "background" batch in full before answering (one connection
cannot serve two tasks). The real background path, with its own connections
and commits, is covered in tests/storage/test_code_batches.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import httpx
import msgspec
import pytest
from litestar import Litestar
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from promo.app import create_app
from promo.auth.roles import Role
from promo.codes.models import Code
from promo.codes.patterns import matcher, parse_charset, parse_pattern
from promo.ids import Kind, decode
from promo.settings import Settings
from tests.support.api import cart, create_campaign, item
from tests.support.clock import FrozenClock
from tests.support.factories import bearer, make_affiliate

Client = httpx.AsyncClient


async def create_batch(
    client: Client, headers: dict[str, str], campaign_id: str, expect: int = 201, **body: Any
) -> dict[str, Any]:
    body = {"charset": "safe", **body}
    response = await client.post(
        f"/v1/campaigns/{campaign_id}/code-batches", json=body, headers=headers
    )
    assert response.status_code == expect, response.text
    result: dict[str, Any] = response.json()
    return result


async def batch_codes(db: AsyncSession, batch: dict[str, Any]) -> list[Code]:
    batch_id = decode(Kind.CODE_BATCH, batch["id"])
    return list((await db.scalars(select(Code).where(Code.batch_id == batch_id))).all())


async def test_small_batch_is_generated_at_once_with_exactly_count_codes(
    client: Client, marketer: dict[str, str], db: AsyncSession, clock: FrozenClock
) -> None:
    campaign = await create_campaign(client, marketer)
    batch = await create_batch(
        client, marketer, campaign["id"], count=500, pattern="SUM-#####-#####"
    )
    assert batch["status"] == "done"
    assert (batch["count"], batch["generated"], batch["percent"]) == (500, 500, 100.0)
    assert batch["pattern"] == "SUM-#####-#####"
    assert batch["canonical_pattern"] == "SUM##########"
    assert batch["charset"] == "safe"
    assert batch["campaign_id"] == campaign["id"]
    assert batch["max_redemptions_per_code"] == 1
    assert batch["affiliate_id"] is None
    assert batch["error"] is None
    assert batch["id"].startswith("bat_")
    assert datetime.fromisoformat(batch["finished_at"]) == clock()

    codes = await batch_codes(db, batch)
    assert len(codes) == 500
    assert len({c.canonical for c in codes}) == 500
    expected = matcher(parse_pattern("SUM-#####-#####", parse_charset("safe")))
    for code in codes:
        assert expected.fullmatch(code.canonical)
        assert code.code == f"SUM-{code.canonical[3:8]}-{code.canonical[8:]}"
        assert (code.kind, code.used, code.active, code.live) == ("batch", 0, True, True)
        assert code.max_redemptions == 1

    fetched = await client.get(f"/v1/code-batches/{batch['id']}", headers=marketer)
    assert fetched.status_code == 200
    assert fetched.json() == batch
    found = await client.get(f"/v1/codes/{codes[0].code.lower()}", headers=marketer)
    assert found.json()["canonical"] == codes[0].canonical


async def test_large_batch_is_accepted_and_generated_in_the_background(
    client: Client, marketer: dict[str, str], db: AsyncSession
) -> None:
    campaign = await create_campaign(client, marketer)
    batch = await create_batch(
        client, marketer, campaign["id"], expect=202, count=5000, pattern="BIG-########"
    )
    assert batch["status"] == "pending"
    assert (batch["generated"], batch["percent"], batch["finished_at"]) == (0, 0.0, None)

    done = (await client.get(f"/v1/code-batches/{batch['id']}", headers=marketer)).json()
    assert done["status"] == "done"
    assert (done["generated"], done["percent"]) == (5000, 100.0)
    codes = await batch_codes(db, batch)
    assert len({c.canonical for c in codes}) == 5000


@pytest.fixture
def crowded_app(
    settings: Settings, engine: AsyncEngine, connection: AsyncConnection, clock: FrozenClock
) -> Litestar:
    """An app whose guessability ratio lets a tiny pattern's space be mostly taken."""
    relaxed = msgspec.structs.replace(settings, max_guess_ratio=0.1)
    return create_app(relaxed, engine=engine, connection=connection, clock=clock)


@pytest.fixture
async def crowded(crowded_app: Litestar) -> AsyncIterator[Client]:
    transport = httpx.ASGITransport(app=crowded_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://promo.test") as client:
        yield client


async def test_batch_has_exactly_count_codes_when_most_draws_collide(
    crowded: Client, marketer: dict[str, str], db: AsyncSession, clock: FrozenClock
) -> None:
    """T### over digits has 1000 codes; 800 of them are taken by other codes, so
    80-90% of all draws collide. The batch still gets exactly 100 free codes."""
    campaign = await create_campaign(crowded, marketer)
    campaign_id = decode(Kind.CAMPAIGN, campaign["id"])
    taken = {f"T{n:03d}" for n in range(0, 1000, 5)} | {f"T{n:03d}" for n in range(1, 1000, 5)}
    taken |= {f"T{n:03d}" for n in range(2, 1000, 5)} | {f"T{n:03d}" for n in range(3, 1000, 5)}
    await db.execute(
        insert(Code),
        [
            {
                "campaign_id": campaign_id,
                "code": form,
                "canonical": form,
                "kind": "vanity",
                "used": 0,
                "active": True,
                "live": True,
                "created_at": clock(),
            }
            for form in sorted(taken)
        ],
    )
    await db.flush()

    batch = await create_batch(
        crowded, marketer, campaign["id"], count=100, pattern="T-###", charset="digits"
    )

    assert batch["generated"] == 100
    forms = [c.canonical for c in await batch_codes(db, batch)]
    assert len(forms) == len(set(forms)) == 100
    assert not set(forms) & taken
    assert set(forms) <= {f"T{n:03d}" for n in range(4, 1000, 5)}
    live = await db.scalar(select(func.count()).select_from(Code).where(Code.live.is_(True)))
    assert live == 900


async def test_too_guessable_pattern_is_422_with_space_and_largest_count(
    client: Client, marketer: dict[str, str]
) -> None:
    campaign = await create_campaign(client, marketer)
    response = await client.post(
        f"/v1/campaigns/{campaign['id']}/code-batches",
        json={"count": 93, "pattern": "SUM-####", "charset": "safe"},
        headers=marketer,
    )
    assert response.status_code == 422
    problem = response.json()
    assert problem["code"] == "pattern_too_guessable"
    assert problem["space"] == 31**4
    assert problem["max_count"] == 92  # 923,521 * 1e-4
    assert problem["errors"][0]["field"] == "count"
    assert "92" in problem["detail"]
    await create_batch(client, marketer, campaign["id"], count=92, pattern="SUM-####")


async def test_spellings_of_one_pattern_share_one_space(
    client: Client, marketer: dict[str, str]
) -> None:
    first = await create_campaign(client, marketer)
    second = await create_campaign(client, marketer, name="Other")
    await create_batch(client, marketer, first["id"], count=50, pattern="SUM-####")

    refused = await client.post(
        f"/v1/campaigns/{second['id']}/code-batches",
        json={"count": 43, "pattern": "SUM####", "charset": "safe"},
        headers=marketer,
    )
    assert refused.status_code == 422
    assert refused.json()["max_count"] == 42
    await create_batch(client, marketer, second["id"], count=42, pattern="sum_####")
    refused = await client.post(
        f"/v1/campaigns/{second['id']}/code-batches",
        json={"count": 1, "pattern": "S-U-M-####", "charset": "safe"},
        headers=marketer,
    )
    assert refused.json()["max_count"] == 0


async def test_archiving_a_campaign_gives_its_pattern_budget_back(
    client: Client, marketer: dict[str, str]
) -> None:
    old = await create_campaign(client, marketer)
    await create_batch(client, marketer, old["id"], count=92, pattern="SUM-####")
    await client.patch(f"/v1/campaigns/{old['id']}", json={"status": "archived"}, headers=marketer)
    new = await create_campaign(client, marketer, name="Next year")
    await create_batch(client, marketer, new["id"], count=92, pattern="SUM-####")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"pattern": "SUMMER"}, "pattern"),
        ({"pattern": "S#"}, "pattern"),
        ({"pattern": "SUM-" + "#" * 30}, "pattern"),
        ({"pattern": "SUM%####"}, "pattern"),
        ({"charset": "%%"}, "charset"),
        ({"charset": "oO0"}, "charset"),
        ({"count": 0}, "count"),
        ({"count": 10_000_001}, "count"),
        ({"max_redemptions_per_code": 0}, "max_redemptions_per_code"),
        ({"colour": "red"}, "colour"),
        ({"affiliate_id": "aff_" + "x" * 61}, "affiliate_id"),
        ({"pattern": "#" * 65}, "pattern"),
        ({"charset": "A" * 129}, "charset"),
    ],
)
async def test_invalid_batch_request_is_422_naming_the_field(
    client: Client, marketer: dict[str, str], body: dict[str, Any], field: str
) -> None:
    campaign = await create_campaign(client, marketer)
    response = await client.post(
        f"/v1/campaigns/{campaign['id']}/code-batches",
        json={"count": 10, "pattern": "SUM-######", **body},
        headers=marketer,
    )
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == field


async def test_explicit_charset_is_stored_canonical_and_codes_use_only_it(
    client: Client, marketer: dict[str, str], db: AsyncSession
) -> None:
    campaign = await create_campaign(client, marketer)
    batch = await create_batch(
        client, marketer, campaign["id"], count=200, pattern="AB-############", charset="a-b-c-o-x"
    )
    assert batch["charset"] == "ABC0X"
    for code in await batch_codes(db, batch):
        assert set(code.canonical[2:]) <= set("ABC0X")


async def test_unlimited_codes_attributed_to_an_affiliate(
    client: Client, marketer: dict[str, str], db: AsyncSession, clock: FrozenClock
) -> None:
    from promo.ids import encode

    affiliate = await make_affiliate(db, now=clock())
    campaign = await create_campaign(client, marketer)
    batch = await create_batch(
        client,
        marketer,
        campaign["id"],
        count=20,
        pattern="ANNA-######",
        max_redemptions_per_code=None,
        affiliate_id=encode(Kind.AFFILIATE, affiliate.id),
    )
    assert batch["affiliate_id"] == encode(Kind.AFFILIATE, affiliate.id)
    assert batch["max_redemptions_per_code"] is None
    codes = await batch_codes(db, batch)
    assert {(c.affiliate_id, c.max_redemptions) for c in codes} == {(affiliate.id, None)}


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/v1/campaigns/cmp_nope/code-batches", 404, "campaign_not_found"),
        ("{campaign}", 404, "affiliate_not_found"),
    ],
)
async def test_unknown_campaign_or_affiliate_is_404(
    client: Client, marketer: dict[str, str], path: str, status: int, code: str
) -> None:
    campaign = await create_campaign(client, marketer)
    url = path.format(campaign=f"/v1/campaigns/{campaign['id']}/code-batches")
    response = await client.post(
        url,
        json={"count": 10, "pattern": "SUM-######", "affiliate_id": "aff_nope"},
        headers=marketer,
    )
    assert response.status_code == status
    assert response.json()["code"] == code


async def test_archived_campaign_gets_no_batch(client: Client, marketer: dict[str, str]) -> None:
    campaign = await create_campaign(client, marketer)
    await client.patch(
        f"/v1/campaigns/{campaign['id']}", json={"status": "archived"}, headers=marketer
    )
    response = await client.post(
        f"/v1/campaigns/{campaign['id']}/code-batches",
        json={"count": 10, "pattern": "SUM-######"},
        headers=marketer,
    )
    assert response.status_code == 409
    assert response.json()["code"] == "campaign_archived"


@pytest.mark.parametrize("batch_id", ["bat_nope", "cmp_8gEprMnr", "x"])
async def test_unknown_batch_is_404(
    client: Client, marketer: dict[str, str], batch_id: str
) -> None:
    for method, path in [
        ("GET", f"/v1/code-batches/{batch_id}"),
        ("PATCH", f"/v1/code-batches/{batch_id}"),
        ("GET", f"/v1/code-batches/{batch_id}/codes.csv"),
    ]:
        response = await client.request(method, path, json={"active": False}, headers=marketer)
        assert response.status_code == 404, (method, path)
        assert response.json()["code"] == "batch_not_found"


async def test_csv_lists_every_code_of_the_batch_once(
    client: Client, marketer: dict[str, str], db: AsyncSession
) -> None:
    campaign = await create_campaign(client, marketer)
    batch = await create_batch(client, marketer, campaign["id"], count=300, pattern="CSV-######")
    await create_batch(client, marketer, campaign["id"], count=20, pattern="OTHER-######")

    response = await client.get(f"/v1/code-batches/{batch['id']}/codes.csv", headers=marketer)

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert batch["id"] in response.headers["content-disposition"]
    header, *lines = response.text.splitlines()
    assert header == "code"
    assert sorted(lines) == sorted(c.code for c in await batch_codes(db, batch))
    assert len(set(lines)) == 300


async def test_csv_neutralises_codes_a_spreadsheet_would_run_as_a_formula(
    client: Client, marketer: dict[str, str], db: AsyncSession
) -> None:
    """A pattern's literal part may start with "-": such codes get a leading quote
    (OWASP CSV injection), and they still are the codes the batch made."""
    campaign = await create_campaign(client, marketer)
    batch = await create_batch(client, marketer, campaign["id"], count=20, pattern="-SUM-######")

    response = await client.get(f"/v1/code-batches/{batch['id']}/codes.csv", headers=marketer)

    assert response.status_code == 200
    _, *lines = response.text.splitlines()
    codes = [c.code for c in await batch_codes(db, batch)]
    assert all(code.startswith("-SUM-") for code in codes)
    assert sorted(lines) == sorted(f"'{code}" for code in codes)


async def test_patch_disables_every_code_of_the_batch(
    client: Client, marketer: dict[str, str], checkout: dict[str, str], db: AsyncSession
) -> None:
    campaign = await create_campaign(client, marketer)
    batch = await create_batch(client, marketer, campaign["id"], count=50, pattern="OFF-######")
    code = (await batch_codes(db, batch))[7].code
    body = {"code": code, "cart": cart(item("TSHIRT-1", 1, 2500))}
    before = await client.post("/v1/validations", json=body, headers=checkout)
    assert before.json()["valid"] is True

    response = await client.patch(
        f"/v1/code-batches/{batch['id']}", json={"active": False}, headers=marketer
    )

    assert response.status_code == 200
    assert response.json()["codes_updated"] == 50
    assert response.json()["active"] is False
    assert response.json()["batch"]["id"] == batch["id"]
    after = await client.post("/v1/validations", json=body, headers=checkout)
    assert after.json()["valid"] is False
    assert after.json()["reason"] == "code_disabled"
    db.expire_all()
    assert {c.active for c in await batch_codes(db, batch)} == {False}

    enabled = await client.patch(
        f"/v1/code-batches/{batch['id']}", json={"active": True}, headers=marketer
    )
    assert enabled.json()["codes_updated"] == 50
    again = await client.post("/v1/validations", json=body, headers=checkout)
    assert again.json()["valid"] is True


async def test_patch_needs_active(client: Client, marketer: dict[str, str]) -> None:
    campaign = await create_campaign(client, marketer)
    batch = await create_batch(client, marketer, campaign["id"], count=5, pattern="P-######")
    response = await client.patch(
        f"/v1/code-batches/{batch['id']}", json={"active": "no"}, headers=marketer
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "active"


@pytest.mark.parametrize("role", [Role.CHECKOUT, Role.AFFILIATE, Role.ACCOUNTANT])
async def test_only_marketers_and_admins_handle_batches(
    client: Client, keys: dict[Role, str], marketer: dict[str, str], role: Role
) -> None:
    campaign = await create_campaign(client, marketer)
    batch = await create_batch(client, marketer, campaign["id"], count=5, pattern="R-######")
    headers = bearer(keys[role])
    for method, path in [
        ("POST", f"/v1/campaigns/{campaign['id']}/code-batches"),
        ("GET", f"/v1/code-batches/{batch['id']}"),
        ("PATCH", f"/v1/code-batches/{batch['id']}"),
        ("GET", f"/v1/code-batches/{batch['id']}/codes.csv"),
    ]:
        body = {"count": 5, "pattern": "R-######"} if method == "POST" else {"active": False}
        response = await client.request(method, path, json=body, headers=headers)
        assert response.status_code == 403, (method, path)
    admin = await client.get(f"/v1/code-batches/{batch['id']}", headers=bearer(keys[Role.ADMIN]))
    assert admin.status_code == 200
