"""PATCH /v1/campaigns/{id}: `rules`, `limits` and `commission` are JSON merge
patches (RFC 7396), and a budget never falls below what is already spent."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.api import create_campaign, create_code, sell

LIMITS = {"max_redemptions": 1000, "max_redemptions_per_customer": 1, "budget": 2_000_000}
RULES = {
    "min_subtotal": 5000,
    "include_categories": ["summer"],
    "exclude_skus": ["GIFT-CARD"],
    "first_order_only": True,
}
COMMISSION = {"percent": "12.5", "fixed": 100}


async def patched(
    client: httpx.AsyncClient, marketer: dict[str, str], campaign_id: str, body: dict[str, Any]
) -> dict[str, Any]:
    response = await client.patch(f"/v1/campaigns/{campaign_id}", json=body, headers=marketer)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


@pytest.fixture
async def campaign(client: httpx.AsyncClient, marketer: dict[str, str]) -> dict[str, Any]:
    return await create_campaign(
        client, marketer, limits=LIMITS, rules=RULES, commission=COMMISSION
    )


async def test_patching_one_limit_keeps_the_other_limits(
    client: httpx.AsyncClient, marketer: dict[str, str], campaign: dict[str, Any]
) -> None:
    body = await patched(client, marketer, campaign["id"], {"limits": {"budget": 5000}})
    assert body["limits"] == {**LIMITS, "budget": 5000}
    stored = await client.get(f"/v1/campaigns/{campaign['id']}", headers=marketer)
    assert stored.json()["limits"] == {**LIMITS, "budget": 5000}


async def test_patching_one_rule_keeps_the_other_rules(
    client: httpx.AsyncClient, marketer: dict[str, str], campaign: dict[str, Any]
) -> None:
    before = campaign["rules"]
    body = await patched(client, marketer, campaign["id"], {"rules": {"min_quantity": 2}})
    assert body["rules"] == {**before, "min_quantity": 2}
    assert body["rules"]["exclude_skus"] == ["GIFT-CARD"]
    assert body["rules"]["first_order_only"] is True


async def test_patching_one_commission_field_keeps_the_other(
    client: httpx.AsyncClient, marketer: dict[str, str], campaign: dict[str, Any]
) -> None:
    body = await patched(client, marketer, campaign["id"], {"commission": {"fixed": 250}})
    assert body["commission"] == {"percent": "12.50", "fixed": 250, "plan_id": None}


async def test_a_key_sent_as_null_clears_that_key_only(
    client: httpx.AsyncClient, marketer: dict[str, str], campaign: dict[str, Any]
) -> None:
    body = await patched(
        client,
        marketer,
        campaign["id"],
        {
            "limits": {"max_redemptions": None},
            "rules": {"exclude_skus": None, "min_subtotal": None, "first_order_only": None},
            "commission": {"percent": None},
        },
    )
    assert body["limits"] == {**LIMITS, "max_redemptions": None}
    assert body["rules"]["exclude_skus"] == []
    assert body["rules"].get("min_subtotal") is None
    assert body["rules"]["first_order_only"] is False
    assert body["rules"]["include_categories"] == ["summer"]
    assert body["commission"] == {"percent": None, "fixed": 100, "plan_id": None}


async def test_a_section_sent_as_null_goes_back_to_its_defaults(
    client: httpx.AsyncClient, marketer: dict[str, str], campaign: dict[str, Any]
) -> None:
    body = await patched(client, marketer, campaign["id"], {"limits": None, "commission": None})
    assert body["limits"] == dict.fromkeys(LIMITS)
    assert body["commission"] == {"percent": None, "fixed": None, "plan_id": None}
    assert body["rules"]["exclude_skus"] == ["GIFT-CARD"], "an absent section is kept"


async def test_a_patched_section_is_still_validated_naming_the_nested_field(
    client: httpx.AsyncClient, marketer: dict[str, str], campaign: dict[str, Any]
) -> None:
    url = f"/v1/campaigns/{campaign['id']}"
    for body, field in (
        ({"limits": {"budget": 0}}, "limits.budget"),
        ({"limits": {"unknown": 1}}, "limits.unknown"),
        ({"commission": {"percent": "12.345"}}, "commission.percent"),
    ):
        response = await client.patch(url, json=body, headers=marketer)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["errors"][0]["field"] == field
    unchanged = await client.get(url, headers=marketer)
    assert unchanged.json()["limits"] == LIMITS


async def test_a_budget_below_what_is_spent_is_422_naming_limits_budget(
    client: httpx.AsyncClient,
    marketer: dict[str, str],
    checkout: dict[str, str],
) -> None:
    campaign = await create_campaign(client, marketer, limits={"budget": 100_000}, rules={})
    await create_code(client, marketer, campaign["id"], "SPENT20")
    sold = await sell(client, checkout, "SPENT20", 10_000)  # 20% off: 2000 spent
    spent = sold["discount"]["total"]
    assert spent == 2000
    url = f"/v1/campaigns/{campaign['id']}"

    response = await client.patch(url, json={"limits": {"budget": spent - 1}}, headers=marketer)
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["code"] == "budget_below_spent"
    assert problem["errors"][0]["field"] == "limits.budget"
    assert str(spent) in problem["detail"]
    assert problem["budget_used"] == spent
    kept = await client.get(url, headers=marketer)
    assert kept.json()["limits"]["budget"] == 100_000

    exact = await patched(client, marketer, campaign["id"], {"limits": {"budget": spent}})
    assert exact["limits"]["budget"] == spent
    unlimited = await patched(client, marketer, campaign["id"], {"limits": {"budget": None}})
    assert unlimited["limits"]["budget"] is None
