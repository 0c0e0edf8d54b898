"""``uniform_refusals``: a leaked checkout answer must not tell whether a code exists.

With the setting on, every refusal that would reveal a code's existence
(unknown, disabled, campaign not running, not started, expired, used up)
reads the same, byte for byte; the detailed reason is still counted in
/metrics. Refusals about the cart stay detailed. Off, every reason is told.
"""

from __future__ import annotations

import re
import uuid
from collections import Counter
from typing import Any

import httpx
import pytest
from litestar import Litestar
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from promo.app import create_app
from promo.settings import Settings
from tests.conftest import make_settings
from tests.support.api import cart, create_campaign, create_code, item, redeem
from tests.support.clock import FrozenClock

# 2 x 2500 eligible, 20% off: a discount of 1000.
TSHIRTS = cart(item("TSHIRT-1", 2, 2500, "summer", "tops"))
UNIFORM_VALIDATION = {
    "valid": False,
    "code": None,
    "campaign_id": None,
    "reason": "code_unavailable",
    "message": "This code cannot be used.",
    "details": None,
    "discount": None,
}
CONCEALED = [
    "code_not_found",
    "code_disabled",
    "campaign_inactive",
    "not_started",
    "expired",
    "code_exhausted",
    "campaign_exhausted",
    "budget_exhausted",
]
THROTTLE_LIMIT = 40


@pytest.fixture
def uniform() -> bool:
    return True


@pytest.fixture
def app(
    settings: Settings,
    engine: AsyncEngine,
    connection: AsyncConnection,
    clock: FrozenClock,
    uniform: bool,
) -> Litestar:
    configured = make_settings(
        settings.database_url,
        uniform_refusals=uniform,
        throttle_failures_per_customer=THROTTLE_LIMIT,
    )
    return create_app(configured, engine=engine, connection=connection, clock=clock)


def order_id() -> str:
    return f"ord_{uuid.uuid4().hex[:12]}"


async def redeem_ok(client: httpx.AsyncClient, checkout: dict[str, str], code: str) -> None:
    response = await redeem(client, checkout, code=code, cart=TSHIRTS, order_id=order_id())
    assert response.status_code == 201, response.text


@pytest.fixture
async def unusable(
    client: httpx.AsyncClient, marketer: dict[str, str], checkout: dict[str, str]
) -> dict[str, str]:
    """For each reason that reveals a code, a code refused for that reason."""
    live = await create_campaign(client, marketer, name="Live")
    await create_code(client, marketer, live["id"], "GONE10")
    response = await client.patch("/v1/codes/GONE10", json={"active": False}, headers=marketer)
    assert response.status_code == 200, response.text
    await create_code(client, marketer, live["id"], "ONCE10", max_redemptions=1)
    await redeem_ok(client, checkout, "ONCE10")

    full = await create_campaign(client, marketer, name="Full", limits={"max_redemptions": 1})
    await create_code(client, marketer, full["id"], "FULL10")
    await redeem_ok(client, checkout, "FULL10")
    broke = await create_campaign(client, marketer, name="Broke", limits={"budget": 1500})
    await create_code(client, marketer, broke["id"], "BROKE10")
    await redeem_ok(client, checkout, "BROKE10")  # 1000 of 1500: the next 1000 cannot fit

    paused = await create_campaign(client, marketer, name="Paused", status="paused")
    await create_code(client, marketer, paused["id"], "PAUSED10")
    later = await create_campaign(
        client, marketer, name="Later", starts_at="2026-09-01T00:00:00Z", ends_at=None
    )
    await create_code(client, marketer, later["id"], "LATER10")
    ended = await create_campaign(client, marketer, name="Ended", ends_at="2026-06-15T00:00:00Z")
    await create_code(client, marketer, ended["id"], "ENDED10")
    return {
        "code_not_found": "NOSUCH10",
        "code_disabled": "GONE10",
        "campaign_inactive": "PAUSED10",
        "not_started": "LATER10",
        "expired": "ENDED10",
        "code_exhausted": "ONCE10",
        "campaign_exhausted": "FULL10",
        "budget_exhausted": "BROKE10",
    }


@pytest.fixture
async def min_spend(client: httpx.AsyncClient, marketer: dict[str, str]) -> dict[str, Any]:
    campaign = await create_campaign(
        client, marketer, name="Min spend", rules={"min_subtotal": 8000, "exclude_skus": ["GC"]}
    )
    await create_code(client, marketer, campaign["id"], "BIG20")
    return campaign


async def validate(
    client: httpx.AsyncClient, checkout: dict[str, str], code: str, **body: Any
) -> httpx.Response:
    response = await client.post(
        "/v1/validations", json={"code": code, "cart": TSHIRTS, **body}, headers=checkout
    )
    assert response.status_code == 200, response.text
    return response


REFUSAL_LINE = re.compile(r"^promo_checkout_refusals_total\{(?P<labels>[^}]*)\} (?P<value>\S+)$")


async def refusal_counts(client: httpx.AsyncClient) -> Counter[tuple[str, str]]:
    """promo_checkout_refusals_total by (operation, reason), as /metrics shows it."""
    response = await client.get("/metrics")
    assert response.status_code == 200
    counts: Counter[tuple[str, str]] = Counter()
    for line in response.text.splitlines():
        match = REFUSAL_LINE.match(line)
        if match:
            labels = dict(re.findall(r'(\w+)="([^"]*)"', match["labels"]))
            counts[(labels["operation"], labels["reason"])] = int(float(match["value"]))
    return counts


async def test_every_refusal_that_reveals_a_code_reads_the_same(
    client: httpx.AsyncClient, checkout: dict[str, str], unusable: dict[str, str]
) -> None:
    answers = {reason: await validate(client, checkout, code) for reason, code in unusable.items()}
    for reason, response in answers.items():
        assert response.json() == UNIFORM_VALIDATION, reason
    assert len({response.content for response in answers.values()}) == 1


async def test_refused_redemptions_that_reveal_a_code_read_the_same(
    client: httpx.AsyncClient, checkout: dict[str, str], unusable: dict[str, str]
) -> None:
    bodies = set()
    for reason, code in unusable.items():
        response = await redeem(client, checkout, code=code, cart=TSHIRTS, order_id="ord_same")
        assert response.status_code == 409, (reason, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        body = response.json()
        assert body == {
            "status": 409,
            "type": "urn:promo:problem:code_unavailable",
            "title": "Conflict",
            "detail": "This code cannot be used.",
            "code": "code_unavailable",
        }, reason
        bodies.add(response.content)
    assert len(bodies) == 1


async def test_metrics_still_count_the_detailed_reason(
    client: httpx.AsyncClient, checkout: dict[str, str], unusable: dict[str, str]
) -> None:
    before = await refusal_counts(client)
    for code in unusable.values():
        await validate(client, checkout, code)
        await redeem(client, checkout, code=code, cart=TSHIRTS, order_id=order_id())
    after = await refusal_counts(client)
    expected = Counter(
        {(operation, reason): 1 for reason in CONCEALED for operation in ("validate", "redeem")}
    )
    assert after - before == expected


async def test_refusals_about_the_cart_stay_detailed(
    client: httpx.AsyncClient, checkout: dict[str, str], min_spend: dict[str, Any]
) -> None:
    short = (await validate(client, checkout, "BIG20")).json()
    assert short == {
        "valid": False,
        "code": "BIG20",
        "campaign_id": min_spend["id"],
        "reason": "min_subtotal_not_met",
        "message": "The qualifying items do not reach the minimum amount.",
        "details": {"min_subtotal": 8000, "missing_subtotal": 3000},
        "discount": None,
    }
    gift = {"cart": cart(item("GC", 1, 9000))}
    assert (await validate(client, checkout, "BIG20", **gift)).json()["reason"] == (
        "no_eligible_items"
    )
    yen = {"cart": cart(item("TSHIRT-1", 1, 9000), currency="JPY")}
    assert (await validate(client, checkout, "BIG20", **yen)).json()["reason"] == (
        "currency_mismatch"
    )
    response = await redeem(client, checkout, code="BIG20", cart=TSHIRTS, order_id=order_id())
    assert response.status_code == 409
    assert response.json()["code"] == "min_subtotal_not_met"
    assert response.json()["missing_subtotal"] == 3000


async def test_a_wrong_cart_does_not_tell_a_used_up_code_from_an_unknown_one(
    client: httpx.AsyncClient,
    marketer: dict[str, str],
    checkout: dict[str, str],
    unusable: dict[str, str],
) -> None:
    """Cart and customer rules come after the usage checks that hold for every cart:
    otherwise a yen cart would get ``currency_mismatch`` from a used-up code and
    ``code_unavailable`` from a code that does not exist."""
    spent = await create_campaign(client, marketer, name="Spent", limits={"budget": 1000})
    await create_code(client, marketer, spent["id"], "SPENT10")
    await redeem_ok(client, checkout, "SPENT10")  # 1000 of 1000
    wrong_carts = [
        {"cart": cart(item("TSHIRT-1", 1, 9000), currency="JPY")},
        {"cart": cart(item("GIFT-CARD", 1, 9000))},  # no eligible items
    ]
    used_up = [unusable["code_exhausted"], unusable["campaign_exhausted"], "SPENT10"]
    for code in [*used_up, unusable["code_not_found"]]:
        for body in wrong_carts:
            assert (await validate(client, checkout, code, **body)).json() == UNIFORM_VALIDATION
            response = await redeem(client, checkout, code=code, order_id=order_id(), **body)
            assert response.status_code == 409
            assert response.json()["code"] == "code_unavailable", (code, body)


@pytest.mark.parametrize("uniform", [False])
async def test_with_the_setting_off_every_reason_is_told(
    client: httpx.AsyncClient, checkout: dict[str, str], unusable: dict[str, str]
) -> None:
    for reason, code in unusable.items():
        body = (await validate(client, checkout, code)).json()
        assert body["valid"] is False
        assert body["reason"] == reason
        response = await redeem(client, checkout, code=code, cart=TSHIRTS, order_id=order_id())
        assert response.status_code == 409
        assert response.json()["code"] == reason
    yen = {"cart": cart(item("TSHIRT-1", 1, 9000), currency="JPY")}
    used_up = (await validate(client, checkout, unusable["code_exhausted"], **yen)).json()
    assert used_up["reason"] == "currency_mismatch"  # the documented order
    expired = (await validate(client, checkout, unusable["expired"])).json()
    assert expired["code"] == "ENDED10"
    assert expired["details"] == {"ended_at": "2026-06-15T00:00:00+00:00"}


async def test_concealed_refusals_spend_the_throttle_budget_alike(
    client: httpx.AsyncClient, checkout: dict[str, str], unusable: dict[str, str]
) -> None:
    me = {"customer_id": "cus_1"}
    for _ in range(THROTTLE_LIMIT):
        assert (await validate(client, checkout, unusable["expired"], **me)).json()["reason"] == (
            "code_unavailable"
        )
    response = await client.post(
        "/v1/validations", json={"code": "ENDED10", "cart": TSHIRTS, **me}, headers=checkout
    )
    assert response.status_code == 429
