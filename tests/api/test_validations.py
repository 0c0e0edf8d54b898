"""POST /v1/validations: exact discounts, or the first reason why not; never consumes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from promo.affiliates.models import Affiliate
from promo.campaigns.models import Campaign
from promo.checkout.models import CustomerOrders, CustomerUsage
from promo.checkout.reasons import Reason
from promo.codes.models import Code
from promo.ids import Kind, decode, encode
from promo.money import MAX_AMOUNT
from tests.support.api import cart, create_campaign, create_code, item, redeem
from tests.support.clock import FrozenClock
from tests.support.factories import make_affiliate
from tests.support.pii import ref

TSHIRTS = cart(item("TSHIRT-1", 2, 2500, "summer", "tops"), item("GIFT-CARD", 1, 5000))


async def validate(
    client: httpx.AsyncClient, checkout: dict[str, str], code: str = "SUMMER20", **body: Any
) -> dict[str, Any]:
    response = await client.post(
        "/v1/validations", json={"code": code, "cart": TSHIRTS, **body}, headers=checkout
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


@pytest.fixture
async def summer(client: httpx.AsyncClient, marketer: dict[str, str]) -> dict[str, Any]:
    campaign = await create_campaign(client, marketer)
    await create_code(client, marketer, campaign["id"], "SUMMER20")
    return campaign


async def test_valid_code_gets_the_exact_discount_per_line(
    client: httpx.AsyncClient, checkout: dict[str, str], summer: dict[str, Any]
) -> None:
    result = await validate(client, checkout, code="summer-2o")
    assert result == {
        "valid": True,
        "code": "SUMMER20",
        "campaign_id": summer["id"],
        "reason": None,
        "message": None,
        "details": None,
        "discount": {
            "total": 1000,
            "shipping": 0,
            "lines": [{"line_id": "0", "sku": "TSHIRT-1", "amount": 1000}],
            "gift": None,
        },
    }


async def test_validation_consumes_nothing(
    client: httpx.AsyncClient,
    checkout: dict[str, str],
    marketer: dict[str, str],
    summer: dict[str, Any],
) -> None:
    for _ in range(3):
        assert (await validate(client, checkout))["valid"] is True
    code = (await client.get("/v1/codes/SUMMER20", headers=marketer)).json()
    campaign = (await client.get(f"/v1/campaigns/{summer['id']}", headers=marketer)).json()
    assert code["used"] == 0
    assert campaign["usage"] == {"redemptions": 0, "budget_used": 0}


async def test_line_ids_given_by_the_checkout_come_back(
    client: httpx.AsyncClient, checkout: dict[str, str], summer: dict[str, Any]
) -> None:
    body = cart(
        {**item("A", 1, 999), "line_id": "a"},
        {**item("B", 1, 1), "line_id": "b"},
        {**item("FREEBIE", 1, 0), "line_id": "c"},
    )
    response = await client.post(
        "/v1/validations", json={"code": "SUMMER20", "cart": body}, headers=checkout
    )
    lines = response.json()["discount"]["lines"]
    assert [line["line_id"] for line in lines] == ["a", "b", "c"]
    assert sum(line["amount"] for line in lines) == response.json()["discount"]["total"] == 200


async def test_free_shipping_discounts_the_shipping(
    client: httpx.AsyncClient, checkout: dict[str, str], marketer: dict[str, str]
) -> None:
    campaign = await create_campaign(client, marketer, discount={"type": "free_shipping"})
    await create_code(client, marketer, campaign["id"], "SHIPFREE")
    result = await validate(client, checkout, code="SHIPFREE")
    assert result["discount"]["total"] == result["discount"]["shipping"] == 490


async def test_fixed_amount_never_exceeds_the_eligible_items(
    client: httpx.AsyncClient, checkout: dict[str, str], marketer: dict[str, str]
) -> None:
    campaign = await create_campaign(
        client, marketer, discount={"type": "fixed_amount", "amount_off": 1000}
    )
    await create_code(client, marketer, campaign["id"], "TENOFF")
    response = await client.post(
        "/v1/validations",
        json={"code": "TENOFF", "cart": cart(item("SOCKS", 1, 700))},
        headers=checkout,
    )
    assert response.json()["discount"]["total"] == 700


# Each reason, reached through the API. Arrangements that only redemptions
# can produce (usage counters) are written straight to the tables.


async def set_campaign(db: AsyncSession, campaign_id: str, **values: Any) -> None:
    await db.execute(
        update(Campaign).where(Campaign.id == decode(Kind.CAMPAIGN, campaign_id)).values(**values)
    )


async def test_reason_code_not_found(client: httpx.AsyncClient, checkout: dict[str, str]) -> None:
    result = await validate(client, checkout, code="NOSUCHCODE")
    assert result["valid"] is False
    assert result["reason"] == "code_not_found"
    assert result["message"]
    assert result["discount"] is None


async def test_reason_code_disabled(
    client: httpx.AsyncClient,
    checkout: dict[str, str],
    marketer: dict[str, str],
    summer: dict[str, Any],
) -> None:
    await client.patch("/v1/codes/SUMMER20", json={"active": False}, headers=marketer)
    assert (await validate(client, checkout))["reason"] == "code_disabled"


async def test_reason_code_disabled_when_its_affiliate_is_inactive(
    client: httpx.AsyncClient,
    checkout: dict[str, str],
    marketer: dict[str, str],
    summer: dict[str, Any],
    db: AsyncSession,
    clock: FrozenClock,
) -> None:
    affiliate = await make_affiliate(db, now=clock(), name="Zoe")
    await create_code(
        client, marketer, summer["id"], "ZOE10", affiliate_id=encode(Kind.AFFILIATE, affiliate.id)
    )
    assert (await validate(client, checkout, code="ZOE10"))["valid"] is True
    await db.execute(update(Affiliate).where(Affiliate.id == affiliate.id).values(active=False))
    assert (await validate(client, checkout, code="ZOE10"))["reason"] == "code_disabled"


@pytest.mark.parametrize("status", ["paused", "archived"])
async def test_reason_campaign_inactive(
    client: httpx.AsyncClient,
    checkout: dict[str, str],
    marketer: dict[str, str],
    summer: dict[str, Any],
    status: str,
) -> None:
    await client.patch(f"/v1/campaigns/{summer['id']}", json={"status": status}, headers=marketer)
    expected = "campaign_inactive" if status == "paused" else "code_not_found"  # archived: released
    assert (await validate(client, checkout))["reason"] == expected


async def test_reason_campaign_inactive_for_a_draft(
    client: httpx.AsyncClient, checkout: dict[str, str], marketer: dict[str, str]
) -> None:
    campaign = await create_campaign(client, marketer, status="draft")
    await create_code(client, marketer, campaign["id"], "DRAFTY")
    assert (await validate(client, checkout, code="DRAFTY"))["reason"] == "campaign_inactive"


async def test_reasons_not_started_and_expired_follow_the_clock(
    client: httpx.AsyncClient, checkout: dict[str, str], summer: dict[str, Any], clock: FrozenClock
) -> None:
    clock.set(datetime(2026, 5, 31, 21, 59, 59, tzinfo=UTC))
    assert (await validate(client, checkout))["reason"] == "not_started"
    clock.set(datetime(2026, 5, 31, 22, 0, 0, tzinfo=UTC))  # 00:00 in Paris
    assert (await validate(client, checkout))["valid"] is True
    clock.set(datetime(2026, 8, 31, 21, 59, 59, tzinfo=UTC))  # 23:59:59 in Paris
    assert (await validate(client, checkout))["valid"] is True
    clock.advance(seconds=1)
    result = await validate(client, checkout)
    assert result["reason"] == "expired"
    assert result["details"] == {"ended_at": "2026-08-31T21:59:59+00:00"}


async def test_reason_currency_mismatch(
    client: httpx.AsyncClient, checkout: dict[str, str], summer: dict[str, Any]
) -> None:
    response = await client.post(
        "/v1/validations",
        json={"code": "SUMMER20", "cart": cart(item("TSHIRT-1", 1, 2500), currency="USD")},
        headers=checkout,
    )
    assert response.json()["reason"] == "currency_mismatch"
    assert response.json()["details"] == {"expected_currency": "EUR"}


async def test_reason_customer_required_with_a_per_customer_limit(
    client: httpx.AsyncClient, checkout: dict[str, str], marketer: dict[str, str]
) -> None:
    campaign = await create_campaign(client, marketer, limits={"max_redemptions_per_customer": 1})
    await create_code(client, marketer, campaign["id"], "ONEEACH")
    assert (await validate(client, checkout, code="ONEEACH"))["reason"] == "customer_required"
    assert (await validate(client, checkout, code="ONEEACH", customer_email="a@b.c"))["valid"]


async def test_reason_customer_not_eligible_outside_the_allowlist(
    client: httpx.AsyncClient, checkout: dict[str, str], marketer: dict[str, str]
) -> None:
    campaign = await create_campaign(client, marketer, rules={"customer_ids": ["cus_vip"]})
    await create_code(client, marketer, campaign["id"], "VIPONLY")
    result = await validate(client, checkout, code="VIPONLY", customer_id="cus_42")
    assert result["reason"] == "customer_not_eligible"
    assert (await validate(client, checkout, code="VIPONLY", customer_id="cus_vip"))["valid"]


async def test_reason_self_referral(
    client: httpx.AsyncClient,
    checkout: dict[str, str],
    marketer: dict[str, str],
    summer: dict[str, Any],
    db: AsyncSession,
    clock: FrozenClock,
) -> None:
    affiliate = await make_affiliate(db, now=clock(), name="Anna")  # anna@example.com
    await create_code(
        client, marketer, summer["id"], "ANNA10", affiliate_id=encode(Kind.AFFILIATE, affiliate.id)
    )
    result = await validate(
        client, checkout, code="ANNA10", customer_email=" Anna+promo@Example.com "
    )
    assert result["reason"] == "self_referral"
    assert (await validate(client, checkout, code="ANNA10", customer_email="bob@example.com"))[
        "valid"
    ]


async def test_reason_first_order_only(
    client: httpx.AsyncClient,
    checkout: dict[str, str],
    marketer: dict[str, str],
    db: AsyncSession,
) -> None:
    campaign = await create_campaign(client, marketer, rules={"first_order_only": True})
    await create_code(client, marketer, campaign["id"], "WELCOME")
    assert (await validate(client, checkout, code="WELCOME"))["reason"] == "first_order_only"
    first = await validate(client, checkout, code="WELCOME", first_order=True, customer_id="c1")
    assert first["valid"] is True
    # A customer who already redeemed in promo is never on a first order.
    db.add(CustomerOrders(customer_ref=ref("id:c1"), live=1))
    await db.flush()
    again = await validate(client, checkout, code="WELCOME", first_order=True, customer_id="c1")
    assert again["reason"] == "first_order_only"
    # Nor under its e-mail, when the checkout names both.
    db.add(CustomerOrders(customer_ref=ref("email:ana@example.com"), live=1))
    await db.flush()
    by_mail = await validate(
        client,
        checkout,
        code="WELCOME",
        first_order=True,
        customer_id="c2",
        customer_email="Ana+promo@Example.com",
    )
    assert by_mail["reason"] == "first_order_only"


async def test_reason_no_eligible_items(
    client: httpx.AsyncClient, checkout: dict[str, str], summer: dict[str, Any]
) -> None:
    response = await client.post(
        "/v1/validations",
        json={"code": "SUMMER20", "cart": cart(item("GIFT-CARD", 2, 5000))},
        headers=checkout,
    )
    assert response.json()["reason"] == "no_eligible_items"


async def test_reasons_min_subtotal_and_min_quantity_tell_what_is_missing(
    client: httpx.AsyncClient, checkout: dict[str, str], marketer: dict[str, str]
) -> None:
    campaign = await create_campaign(
        client, marketer, rules={"min_subtotal": 6200, "min_quantity": 3}
    )
    await create_code(client, marketer, campaign["id"], "BIGCART")
    result = await validate(client, checkout, code="BIGCART")
    assert result["reason"] == "min_subtotal_not_met"
    assert result["details"]["missing_subtotal"] == 1200
    await client.patch(
        f"/v1/campaigns/{campaign['id']}",
        json={"rules": {"min_subtotal": 5000, "min_quantity": 3, "exclude_skus": ["GIFT-CARD"]}},
        headers=marketer,
    )
    result = await validate(client, checkout, code="BIGCART")
    assert result["reason"] == "min_quantity_not_met"
    assert result["details"]["missing_quantity"] == 1


async def test_reasons_code_and_campaign_exhausted(
    client: httpx.AsyncClient,
    checkout: dict[str, str],
    marketer: dict[str, str],
    db: AsyncSession,
) -> None:
    campaign = await create_campaign(client, marketer, limits={"max_redemptions": 2})
    limited = await create_code(client, marketer, campaign["id"], "LIMITED", max_redemptions=1)
    await create_code(client, marketer, campaign["id"], "OTHERONE")
    await db.execute(update(Code).where(Code.canonical == limited["canonical"]).values(used=1))
    assert (await validate(client, checkout, code="LIMITED"))["reason"] == "code_exhausted"
    assert (await validate(client, checkout, code="OTHERONE"))["valid"] is True
    await set_campaign(db, campaign["id"], redemptions_used=2)
    assert (await validate(client, checkout, code="OTHERONE"))["reason"] == "campaign_exhausted"


async def test_reason_code_reserved_while_its_last_use_is_held(
    client: httpx.AsyncClient, checkout: dict[str, str], marketer: dict[str, str]
) -> None:
    campaign = await create_campaign(client, marketer)
    await create_code(client, marketer, campaign["id"], "LASTONE", max_redemptions=1)
    held = await client.post(
        "/v1/reservations",
        json={"code": "LASTONE", "cart": cart(item("TSHIRT-1", 1, 2500))},
        headers={**checkout, "Idempotency-Key": "hold-the-last-one"},
    )
    assert held.status_code == 201, held.text
    result = await validate(client, checkout, code="LASTONE")
    assert result["reason"] == "code_reserved"
    assert result["details"]["expires_at"] == held.json()["expires_at"].replace("Z", "+00:00")
    await client.post(f"/v1/reservations/{held.json()['id']}/release", headers=checkout)
    assert (await validate(client, checkout, code="LASTONE"))["valid"] is True


async def test_lowering_a_limit_below_usage_makes_the_campaign_exhausted(
    client: httpx.AsyncClient, checkout: dict[str, str], marketer: dict[str, str], db: AsyncSession
) -> None:
    campaign = await create_campaign(client, marketer, limits={"max_redemptions": 10})
    await create_code(client, marketer, campaign["id"], "LOWERME")
    await set_campaign(db, campaign["id"], redemptions_used=5)
    await client.patch(
        f"/v1/campaigns/{campaign['id']}", json={"limits": {"max_redemptions": 3}}, headers=marketer
    )
    assert (await validate(client, checkout, code="LOWERME"))["reason"] == "campaign_exhausted"


async def test_reason_customer_limit_reached(
    client: httpx.AsyncClient, checkout: dict[str, str], marketer: dict[str, str], db: AsyncSession
) -> None:
    campaign = await create_campaign(client, marketer, limits={"max_redemptions_per_customer": 1})
    await create_code(client, marketer, campaign["id"], "ONCEEACH")
    db.add(
        CustomerUsage(
            campaign_id=decode(Kind.CAMPAIGN, campaign["id"]),
            customer_ref=ref("email:ana@gmail.com"),
            used=1,
        )
    )
    await db.flush()
    # The same mailbox however it is spelled.
    result = await validate(
        client, checkout, code="ONCEEACH", customer_email="A.na+x@googlemail.com"
    )
    assert result["reason"] == "customer_limit_reached"
    assert (await validate(client, checkout, code="ONCEEACH", customer_email="bo@gmail.com"))[
        "valid"
    ]


async def test_reason_budget_exhausted_never_a_smaller_discount(
    client: httpx.AsyncClient, checkout: dict[str, str], marketer: dict[str, str], db: AsyncSession
) -> None:
    campaign = await create_campaign(client, marketer, limits={"budget": 5000})
    await create_code(client, marketer, campaign["id"], "BUDGETED")
    await set_campaign(db, campaign["id"], budget_used=4000)
    assert (await validate(client, checkout, code="BUDGETED"))["valid"] is True  # exactly 5000
    await set_campaign(db, campaign["id"], budget_used=4001)
    assert (await validate(client, checkout, code="BUDGETED"))["reason"] == "budget_exhausted"


async def test_when_several_reasons_apply_the_first_in_order_wins(
    client: httpx.AsyncClient,
    checkout: dict[str, str],
    marketer: dict[str, str],
    clock: FrozenClock,
) -> None:
    campaign = await create_campaign(client, marketer, rules={"min_subtotal": 10**6})
    await create_code(client, marketer, campaign["id"], "MANYFAIL")
    await client.patch("/v1/codes/MANYFAIL", json={"active": False}, headers=marketer)
    clock.set(datetime(2030, 1, 1, tzinfo=UTC))  # also expired, also under min subtotal
    response = await client.post(
        "/v1/validations",
        json={"code": "MANYFAIL", "cart": cart(item("X", 1, 1), currency="USD")},
        headers=checkout,
    )
    assert response.json()["reason"] == "code_disabled"


async def test_reason_nothing_to_discount_when_the_whole_discount_is_zero(
    client: httpx.AsyncClient, checkout: dict[str, str], marketer: dict[str, str]
) -> None:
    campaign = await create_campaign(client, marketer, discount={"type": "free_shipping"})
    await create_code(client, marketer, campaign["id"], "SHIPFREE")
    no_shipping = {"code": "SHIPFREE", "cart": cart(item("TSHIRT-1", 1, 2500), shipping=0)}
    result = (await client.post("/v1/validations", json=no_shipping, headers=checkout)).json()
    assert result["reason"] == "nothing_to_discount"
    # Redeemed, it is refused too, and consumes no use of the code.
    refused = await redeem(client, checkout, order_id="o-zero", **no_shipping)
    assert refused.status_code == 409
    assert refused.json()["code"] == "nothing_to_discount"
    code = (await client.get("/v1/codes/SHIPFREE", headers=marketer)).json()
    assert code["used"] == 0
    percent = await create_campaign(client, marketer, rules={})
    await create_code(client, marketer, percent["id"], "ZEROCART")
    free_cart = {"code": "ZEROCART", "cart": cart(item("TSHIRT-1", 1, 0))}
    result = (await client.post("/v1/validations", json=free_cart, headers=checkout)).json()
    assert result["reason"] == "nothing_to_discount"


async def test_reason_order_already_redeemed_wins_over_the_customer_limit(
    client: httpx.AsyncClient, checkout: dict[str, str], marketer: dict[str, str]
) -> None:
    """Redemptions only: an order redeemed once and retried under a new
    Idempotency-Key is told so, not that the customer used its allowance."""
    campaign = await create_campaign(client, marketer, limits={"max_redemptions_per_customer": 1})
    await create_code(client, marketer, campaign["id"], "ONCEONLY")
    body = {"code": "ONCEONLY", "customer_id": "c1", "cart": cart(item("TSHIRT-1", 1, 2500))}
    assert (await redeem(client, checkout, order_id="o-1", **body)).status_code == 201
    again = await redeem(client, checkout, order_id="o-1", **body)
    assert again.status_code == 409
    assert again.json()["code"] == "order_already_redeemed"


@pytest.mark.parametrize("email", ["@@@", "ana", "ana@", "a b@example.com", "ana@@example.com"])
async def test_an_email_that_is_not_an_address_is_422(
    client: httpx.AsyncClient, checkout: dict[str, str], summer: dict[str, Any], email: str
) -> None:
    body = {"code": "SUMMER20", "customer_email": email, "cart": cart(item("TSHIRT-1", 1, 2500))}
    response = await client.post("/v1/validations", json=body, headers=checkout)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "customer_email"
    refused = await redeem(client, checkout, order_id="o-mail", **body)
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "customer_email"


# Reached only across the discounts of one order, which validations do not
# take yet (issue 19): the rule is tested in tests/unit/test_stacking.py.
NOT_YET_REACHABLE = {Reason.NOT_COMBINABLE}


def test_every_documented_reason_has_a_test_here() -> None:
    """Reasons that redemption alone produces are reached in this module too."""
    source = open(__file__).read()
    missing = [
        r.value for r in Reason if f'"{r.value}"' not in source and r not in NOT_YET_REACHABLE
    ]
    assert missing == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"code": "SUMMER20", "cart": {"currency": "EUR", "items": []}}, "cart.items"),
        ({"code": "SUMMER20", "cart": cart(item("A", -1, 100))}, "cart.items[0].quantity"),
        ({"code": "SUMMER20", "cart": cart(item("A", 1, -100))}, "cart.items[0].unit_price"),
        ({"code": "SUMMER20", "cart": cart(item("A", 1, 100), currency="ZZZ")}, "cart.currency"),
        ({"code": "SUMMER20", "cart": cart(item("A", 1, 100)), "coupon": 1}, "coupon"),
        ({"code": "SUMMER20", "cart": cart(*[item("A", 1, 1)] * 10_000)}, "cart.items"),
        ({"code": "SUM%20", "cart": cart(item("A", 1, 100))}, "code"),
        ({"code": "SUMMER20", "cart": cart(item("A", 1, 1.5))}, "cart.items[0].unit_price"),  # type: ignore[arg-type]
        (
            {
                "code": "SUMMER20",
                "cart": cart(
                    {**item("A", 1, 1), "line_id": "x"}, {**item("B", 1, 1), "line_id": "x"}
                ),
            },
            "cart.items[1].line_id",
        ),
        (
            {"code": "SUMMER20", "cart": cart(item("A", 1_000_000, MAX_AMOUNT // 1_000_000 + 1))},
            "cart.items[0]",
        ),
    ],
)
async def test_malformed_cart_is_4xx_naming_the_field(
    client: httpx.AsyncClient, checkout: dict[str, str], body: dict[str, Any], field: str
) -> None:
    response = await client.post("/v1/validations", json=body, headers=checkout)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == field


async def test_zero_price_item_is_a_valid_free_item(
    client: httpx.AsyncClient, checkout: dict[str, str], summer: dict[str, Any]
) -> None:
    response = await client.post(
        "/v1/validations",
        json={"code": "SUMMER20", "cart": cart(item("FREEBIE", 1, 0), item("TSHIRT-1", 1, 2500))},
        headers=checkout,
    )
    assert response.json()["valid"] is True
    assert [line["amount"] for line in response.json()["discount"]["lines"]] == [0, 500]
