"""Who may subscribe to which webhook events, through the API: admin to every
event; marketer to the activity of campaigns, codes and checkouts, not to the
money events; accountant to the money events and redemptions. A role acts
only on subscriptions whose every event it may subscribe to."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from promo.auth.roles import Role
from tests.support.factories import bearer

Client = httpx.AsyncClient
URL = "http://127.0.0.1:9/hooks"

# The decision, written out (promo.webhooks.access states it for the service).
MAY_SUBSCRIBE: dict[str, set[Role]] = {
    "redemption.created": {Role.ADMIN, Role.MARKETER, Role.ACCOUNTANT},
    "redemption.refunded": {Role.ADMIN, Role.MARKETER, Role.ACCOUNTANT},
    "redemption.rolled_back": {Role.ADMIN, Role.MARKETER, Role.ACCOUNTANT},
    "code_batch.completed": {Role.ADMIN, Role.MARKETER},
    "code_batch.failed": {Role.ADMIN, Role.MARKETER},
    "campaign.budget_threshold": {Role.ADMIN, Role.MARKETER},
    "payout.created": {Role.ADMIN, Role.ACCOUNTANT},
    "commission.available": {Role.ADMIN, Role.ACCOUNTANT},
    "conversion.created": {Role.ADMIN, Role.MARKETER, Role.ACCOUNTANT},
    "conversion.rejected": {Role.ADMIN, Role.MARKETER, Role.ACCOUNTANT},
    "referral.rewarded": {Role.ADMIN, Role.MARKETER},
    "referral.revoked": {Role.ADMIN, Role.MARKETER},
}


async def create(client: Client, key: str, events: list[str]) -> httpx.Response:
    return await client.post(
        "/v1/webhooks", json={"url": URL, "events": events}, headers=bearer(key)
    )


def refusal(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 403, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem: dict[str, Any] = response.json()
    assert problem["code"] == "webhook_event_forbidden"
    assert problem["type"] == "urn:promo:problem:webhook_event_forbidden"
    return problem


@pytest.mark.parametrize("event", sorted(MAY_SUBSCRIBE))
async def test_each_role_may_subscribe_to_the_events_of_its_work_only(
    client: Client, keys: dict[Role, str], event: str
) -> None:
    for role in (Role.ADMIN, Role.MARKETER, Role.ACCOUNTANT):
        response = await create(client, keys[role], [event])
        if role in MAY_SUBSCRIBE[event]:
            assert response.status_code == 201, (role, response.text)
            assert response.json()["events"] == [event]
        else:
            problem = refusal(response)
            assert problem["event"] == event
            assert problem["role"] == role.value
            assert event not in problem["allowed_events"]
            assert (
                problem["detail"]
                == f"events[0]: the {role.value} role may not subscribe to {event}"
            )
            assert problem["errors"] == [
                {
                    "field": "events[0]",
                    "message": f"the {role.value} role may not subscribe to {event}",
                }
            ]
    for role in (Role.CHECKOUT, Role.AFFILIATE):
        response = await create(client, keys[role], [event])
        assert (response.status_code, response.json()["code"]) == (403, "forbidden")


async def test_a_marketer_asking_for_money_events_gets_none_of_them_and_each_is_named(
    client: Client, keys: dict[Role, str]
) -> None:
    marketer = keys[Role.MARKETER]
    response = await create(
        client, marketer, ["redemption.created", "payout.created", "commission.available"]
    )
    problem = refusal(response)
    assert problem["event"] == "payout.created"
    assert [e["field"] for e in problem["errors"]] == ["events[1]", "events[2]"]
    assert "commission.available" in problem["errors"][1]["message"]
    assert sorted(problem["allowed_events"]) == sorted(
        e for e, roles in MAY_SUBSCRIBE.items() if Role.MARKETER in roles
    )
    listed = (await client.get("/v1/webhooks", headers=bearer(marketer))).json()
    assert listed["items"] == [], "nothing subscribed"


async def test_a_marketer_can_see_but_not_change_an_accountants_payout_subscription(
    client: Client, keys: dict[Role, str]
) -> None:
    accountant, marketer = bearer(keys[Role.ACCOUNTANT]), bearer(keys[Role.MARKETER])
    made = await client.post(
        "/v1/webhooks",
        json={"url": URL, "events": ["redemption.created", "payout.created"]},
        headers=accountant,
    )
    assert made.status_code == 201, made.text
    path = f"/v1/webhooks/{made.json()['id']}"
    for method, suffix, body in [
        ("PATCH", "", {"url": "http://127.0.0.1:9/elsewhere"}),
        ("PATCH", "", {"events": ["redemption.created"]}),
        ("PATCH", "", {"active": False}),
        ("POST", "/rotate-secret", None),
        ("POST", "/redeliver", {"event_id": "evt_000000000000"}),
    ]:
        response = await client.request(method, path + suffix, json=body, headers=marketer)
        problem = refusal(response)
        assert problem["event"] == "payout.created"
        assert "carries payout.created" in problem["detail"]
        assert "errors" not in problem
    # Reading is open to both: the subscription, unchanged, and its delivery log.
    shown = await client.get(path, headers=marketer)
    assert shown.status_code == 200
    assert (shown.json()["url"], shown.json()["status"]) == (URL, "active")
    assert (await client.get(f"{path}/deliveries", headers=marketer)).status_code == 200
    # Its owner's role may change it.
    changed = await client.patch(path, json={"description": "ledger"}, headers=accountant)
    assert changed.status_code == 200, changed.text
    rotated = await client.post(f"{path}/rotate-secret", headers=accountant)
    assert rotated.status_code == 200, rotated.text


async def test_a_role_cannot_add_an_event_it_may_not_subscribe_to_by_patch(
    client: Client, keys: dict[Role, str]
) -> None:
    marketer = bearer(keys[Role.MARKETER])
    made = await client.post(
        "/v1/webhooks", json={"url": URL, "events": ["redemption.created"]}, headers=marketer
    )
    path = f"/v1/webhooks/{made.json()['id']}"
    response = await client.patch(
        path, json={"events": ["redemption.created", "payout.created"]}, headers=marketer
    )
    problem = refusal(response)
    assert problem["event"] == "payout.created"
    assert [e["field"] for e in problem["errors"]] == ["events[1]"]
    shown = (await client.get(path, headers=marketer)).json()
    assert shown["events"] == ["redemption.created"]
    # An admin may give it any event; then the marketer may no longer act on it.
    given = await client.patch(
        path,
        json={"events": ["redemption.created", "payout.created"]},
        headers=bearer(keys[Role.ADMIN]),
    )
    assert given.status_code == 200, given.text
    refusal(await client.patch(path, json={"description": "x"}, headers=marketer))
