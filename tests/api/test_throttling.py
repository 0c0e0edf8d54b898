"""Guessing codes is throttled per customer and per client address; per API key
it is slowed and reported (every shopper of a store shares its key), or refused
past an opt-in hard cap.

The app is built with low limits; the throttle runs on the test's clock, so
sliding the window is a matter of moving the clock, never of sleeping.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

import httpx
import pytest
import structlog.testing
from litestar import Litestar
from prometheus_client import REGISTRY
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from promo.app import create_app
from promo.auth.roles import Role
from promo.checkout.throttle import MemoryStore
from promo.settings import Settings
from tests.conftest import make_settings
from tests.support.api import cart, create_campaign, create_code, item, redeem, with_key
from tests.support.clock import FrozenClock
from tests.support.factories import bearer, make_key
from tests.support.pii import ref

KEY_LIMIT = 20
CUSTOMER_LIMIT = 5
IP_LIMIT = 8
WINDOW = 600
TSHIRTS = cart(item("TSHIRT-1", 2, 2500, "summer", "tops"))


@pytest.fixture
def limits() -> dict[str, Any]:
    """Settings of the app under test (a test may override the fixture)."""
    return {"throttle_key_slowdown_ms": 0}


@pytest.fixture
def app(
    settings: Settings,
    engine: AsyncEngine,
    connection: AsyncConnection,
    clock: FrozenClock,
    limits: dict[str, Any],
) -> Litestar:
    limited = make_settings(
        settings.database_url,
        throttle_failures_per_key=KEY_LIMIT,
        throttle_failures_per_customer=CUSTOMER_LIMIT,
        throttle_failures_per_ip=IP_LIMIT,
        throttle_window_seconds=WINDOW,
        **limits,
    )
    app = create_app(limited, engine=engine, connection=connection, clock=clock)
    # The throttle's window slides with the test's clock.
    app.state.throttle.clock = lambda: clock().timestamp()
    return app


@pytest.fixture
async def summer(client: httpx.AsyncClient, marketer: dict[str, str]) -> dict[str, Any]:
    campaign = await create_campaign(client, marketer)
    await create_code(client, marketer, campaign["id"], "SUMMER20")
    return campaign


@pytest.fixture
def new_checkout(db: AsyncSession, clock: FrozenClock) -> Any:
    """Another checkout key each time it is called."""

    async def make() -> dict[str, str]:
        return bearer(await make_key(db, Role.CHECKOUT, now=clock()))

    return make


async def validate(
    client: httpx.AsyncClient, headers: dict[str, str], code: str, **body: Any
) -> httpx.Response:
    return await client.post(
        "/v1/validations", json={"code": code, "cart": TSHIRTS, **body}, headers=headers
    )


def outcome(response: httpx.Response) -> str:
    """``valid``, the refusal reason, or the problem code (``429:...``)."""
    if response.status_code == 200:
        body = response.json()
        return "valid" if body["valid"] else str(body["reason"])
    return f"{response.status_code}:{response.json()['code']}"


def assert_throttled(response: httpx.Response) -> int:
    """A 429 problem with Retry-After; returns the seconds to wait."""
    assert response.status_code == 429, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["code"] == "too_many_failed_attempts"
    assert body["status"] == 429
    assert body["type"] == "urn:promo:problem:too_many_failed_attempts"
    retry_after = int(response.headers["retry-after"])
    assert retry_after >= 1
    assert body["retry_after"] == retry_after
    return retry_after


def signals(scope: str) -> float:
    return REGISTRY.get_sample_value("promo_throttle_signals_total", {"scope": scope}) or 0.0


# The throttle does not depend on the database: the long run needs one backend only
# (every other test here runs on both).
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_one_abusive_shopper_does_not_lock_a_store_out(
    client: httpx.AsyncClient,
    checkout: dict[str, str],
    summer: dict[str, Any],
) -> None:
    """100 wrong codes from rotating customer ids and addresses through the
    store's one key: no honest shopper of that key is refused; the key's
    pace past its budget is reported (metric and one log event per window)."""
    before = signals("key")
    with structlog.testing.capture_logs() as logs:
        await guess_beside_honest_shoppers(client, checkout)
    assert signals("key") - before == 100 - KEY_LIMIT
    assert [e["event"] for e in logs if e["log_level"] == "warning"] == [
        "distributed_guessing_suspected"
    ]


async def guess_beside_honest_shoppers(client: httpx.AsyncClient, checkout: dict[str, str]) -> None:
    for i in range(100):
        answer = await validate(
            client, checkout, f"GUESS{i:04d}", customer_id=f"bot-{i}", client_ip=f"198.51.{i}.7"
        )
        assert outcome(answer) == "code_not_found"
        honest = await validate(
            client, checkout, "SUMMER20", customer_id=f"shopper-{i}", client_ip=f"192.0.2.{i}"
        )
        assert outcome(honest) == "valid"


@pytest.mark.parametrize("limits", [{"throttle_key_slowdown_ms": 300}])
async def test_failures_of_a_key_past_its_budget_are_slowed(
    client: httpx.AsyncClient, checkout: dict[str, str], summer: dict[str, Any]
) -> None:
    for i in range(KEY_LIMIT):
        await validate(client, checkout, f"GUESS{i:04d}", customer_id=f"bot-{i}")
    started = time.monotonic()
    answer = await validate(client, checkout, "GUESSMORE", customer_id="bot-x")
    assert outcome(answer) == "code_not_found"
    assert time.monotonic() - started >= 0.3
    # A valid code is not slowed down: it is no failure.
    started = time.monotonic()
    assert (
        outcome(await validate(client, checkout, "SUMMER20", customer_id="cus_allowed_after"))
        == "valid"
    )
    assert time.monotonic() - started < 0.3


@pytest.mark.parametrize(
    "limits", [{"throttle_key_slowdown_ms": 0, "throttle_key_hard_cap": KEY_LIMIT * 2}]
)
async def test_the_opt_in_hard_cap_refuses_the_key(
    client: httpx.AsyncClient,
    checkout: dict[str, str],
    summer: dict[str, Any],
    new_checkout: Any,
) -> None:
    for i in range(KEY_LIMIT * 2):
        answer = await validate(client, checkout, f"GUESS{i:04d}", customer_id=f"bot-{i}")
        assert outcome(answer) == "code_not_found"
    assert_throttled(await validate(client, checkout, "SUMMER20", customer_id="honest"))
    # Another checkout's key is answered as usual meanwhile.
    other = await new_checkout()
    assert outcome(await validate(client, other, "SUMMER20")) == "valid"


async def test_throttled_customer_is_refused_even_for_a_valid_code_until_retry_after(
    client: httpx.AsyncClient,
    checkout: dict[str, str],
    summer: dict[str, Any],
    clock: FrozenClock,
) -> None:
    me = {"customer_id": "cus_1"}
    for i in range(CUSTOMER_LIMIT):
        assert outcome(await validate(client, checkout, f"GUESS{i:04d}", **me)) == "code_not_found"
    # The answer to a valid code must not differ, or it would confirm a guess.
    retry_after = assert_throttled(await validate(client, checkout, "SUMMER20", **me))
    clock.advance(seconds=retry_after - 1)
    assert_throttled(await validate(client, checkout, "SUMMER20", **me))
    clock.advance(seconds=1)
    assert outcome(await validate(client, checkout, "SUMMER20", **me)) == "valid"


async def test_customer_budget_is_shared_by_every_key(
    client: httpx.AsyncClient, summer: dict[str, Any], new_checkout: Any
) -> None:
    keys = [await new_checkout() for _ in range(3)]
    for i in range(CUSTOMER_LIMIT):
        answer = await validate(client, keys[i % 2], f"GUESS{i:04d}", customer_id="cus_42")
        assert outcome(answer) == "code_not_found"
    assert_throttled(await validate(client, keys[2], "SUMMER20", customer_id="cus_42"))
    assert_throttled(await validate(client, keys[2], "SUMMER20", customer_id=" cus_42 "))
    assert outcome(await validate(client, keys[2], "SUMMER20", customer_id="cus_43")) == "valid"
    assert outcome(await validate(client, keys[0], "SUMMER20")) == "valid"


async def test_customer_budget_follows_the_canonical_email(
    client: httpx.AsyncClient, summer: dict[str, Any], new_checkout: Any
) -> None:
    spellings = ["Ana+1@Gmail.com", "a.na@gmail.com", "ana+x@googlemail.com", "A.N.A@gmail.com"]
    for i in range(CUSTOMER_LIMIT):
        email = spellings[i % len(spellings)]
        answer = await validate(client, await new_checkout(), f"G{i:04d}", customer_email=email)
        assert outcome(answer) == "code_not_found"
    email = "ana+other@googlemail.com"
    assert_throttled(await validate(client, await new_checkout(), "SUMMER20", customer_email=email))
    other = "bob@gmail.com"
    answer = await validate(client, await new_checkout(), "SUMMER20", customer_email=other)
    assert outcome(answer) == "valid"


async def test_client_ip_budget_is_shared_by_every_key_and_customer(
    client: httpx.AsyncClient, summer: dict[str, Any], new_checkout: Any
) -> None:
    keys = [await new_checkout() for _ in range(3)]
    for i in range(IP_LIMIT):
        answer = await validate(
            client, keys[i % 2], f"GUESS{i:04d}", customer_id=f"cus_{i}", client_ip="203.0.113.9"
        )
        assert outcome(answer) == "code_not_found"
    fresh = {"customer_id": "cus_new"}
    assert_throttled(await validate(client, keys[2], "SUMMER20", client_ip="203.0.113.9", **fresh))
    # The same address written as IPv4-mapped IPv6 is the same shopper.
    mapped = "::ffff:203.0.113.9"
    assert_throttled(await validate(client, keys[2], "SUMMER20", client_ip=mapped, **fresh))
    answer = await validate(client, keys[2], "SUMMER20", client_ip="203.0.113.10", **fresh)
    assert outcome(answer) == "valid"
    assert outcome(await validate(client, keys[2], "SUMMER20", **fresh)) == "valid"


async def test_ipv6_addresses_of_one_subscriber_block_share_the_budget(
    client: httpx.AsyncClient, checkout: dict[str, str], summer: dict[str, Any]
) -> None:
    for i in range(IP_LIMIT):
        ip = f"2001:db8:1:2:{i:x}::{i + 1:x}"
        answer = await validate(client, checkout, f"GUESS{i:04d}", client_ip=ip)
        assert outcome(answer) == "code_not_found"
    assert_throttled(await validate(client, checkout, "SUMMER20", client_ip="2001:DB8:1:2::ffff"))
    answer = await validate(client, checkout, "SUMMER20", client_ip="2001:db8:1:3::1")
    assert outcome(answer) == "valid"


async def test_failed_redemptions_spend_the_same_budget_and_are_refused_the_same_way(
    client: httpx.AsyncClient, checkout: dict[str, str], summer: dict[str, Any]
) -> None:
    me = {"customer_id": "cus_1"}
    half = CUSTOMER_LIMIT // 2
    for i in range(half):
        assert outcome(await validate(client, checkout, f"GUESS{i:04d}", **me)) == "code_not_found"
    for i in range(half, CUSTOMER_LIMIT):
        answer = await redeem(
            client, checkout, code=f"GUESS{i:04d}", cart=TSHIRTS, order_id=f"o{i}", **me
        )
        assert answer.status_code == 409, answer.text
        assert answer.json()["code"] == "code_not_found"
    for code in ("GUESSXXXX", "SUMMER20"):
        throttled = await redeem(client, checkout, code=code, cart=TSHIRTS, order_id="o-x", **me)
        assert_throttled(throttled)
    assert_throttled(await validate(client, checkout, "SUMMER20", **me))


async def test_throttled_redemption_is_not_replayed_once_the_window_slides(
    client: httpx.AsyncClient,
    checkout: dict[str, str],
    summer: dict[str, Any],
    clock: FrozenClock,
) -> None:
    me = {"customer_id": "cus_1"}
    for i in range(CUSTOMER_LIMIT):
        answer = await redeem(
            client, checkout, code=f"GUESS{i:04d}", cart=TSHIRTS, order_id=f"o{i}", **me
        )
        assert answer.json()["code"] == "code_not_found"
    body = {"code": "SUMMER20", "cart": TSHIRTS, "order_id": "o-late", **me}
    headers = with_key(checkout, "late-1")
    throttled = await client.post("/v1/redemptions", json=body, headers=headers)
    clock.advance(seconds=assert_throttled(throttled))
    redeemed = await client.post("/v1/redemptions", json=body, headers=headers)
    assert redeemed.status_code == 201, redeemed.text
    assert "idempotent-replayed" not in redeemed.headers


async def test_disabled_codes_spend_the_budget(
    client: httpx.AsyncClient,
    checkout: dict[str, str],
    marketer: dict[str, str],
    summer: dict[str, Any],
) -> None:
    await create_code(client, marketer, summer["id"], "OLD10")
    response = await client.patch("/v1/codes/OLD10", json={"active": False}, headers=marketer)
    assert response.status_code == 200, response.text
    me = {"customer_id": "cus_1"}
    for _ in range(CUSTOMER_LIMIT):
        assert outcome(await validate(client, checkout, "OLD10", **me)) == "code_disabled"
    assert_throttled(await validate(client, checkout, "OLD10", **me))


async def test_valid_validations_never_spend_the_budget(
    client: httpx.AsyncClient, checkout: dict[str, str], summer: dict[str, Any]
) -> None:
    who = {"customer_id": "cus_1", "client_ip": "203.0.113.9"}
    answers = [await validate(client, checkout, "SUMMER20", **who) for _ in range(3 * KEY_LIMIT)]
    assert Counter(outcome(r) for r in answers) == {"valid": 3 * KEY_LIMIT}
    # The whole budget is still there.
    for i in range(CUSTOMER_LIMIT):
        assert outcome(await validate(client, checkout, f"G{i:04d}", **who)) == "code_not_found"
    assert_throttled(await validate(client, checkout, "SUMMER20", **who))


async def test_refusals_about_the_cart_or_the_campaign_spend_no_budget(
    client: httpx.AsyncClient,
    checkout: dict[str, str],
    marketer: dict[str, str],
    summer: dict[str, Any],
) -> None:
    small = await create_campaign(client, marketer, name="Small", rules={"min_subtotal": 100_000})
    await create_code(client, marketer, small["id"], "BIGSPEND")
    ended = await create_campaign(client, marketer, name="Ended", ends_at="2026-06-30T00:00:00Z")
    await create_code(client, marketer, ended["id"], "ENDED10")
    seen: Counter[str] = Counter()
    for _ in range(KEY_LIMIT):
        seen[outcome(await validate(client, checkout, "BIGSPEND"))] += 1
        seen[outcome(await validate(client, checkout, "ENDED10"))] += 1
        yen = {"cart": cart(item("TSHIRT-1", 1, 2500), currency="JPY")}
        seen[outcome(await validate(client, checkout, "SUMMER20", **yen))] += 1
    assert seen == {
        "min_subtotal_not_met": KEY_LIMIT,
        "expired": KEY_LIMIT,
        "currency_mismatch": KEY_LIMIT,
    }
    assert outcome(await validate(client, checkout, "SUMMER20")) == "valid"


class FailureLandsMeanwhile(MemoryStore):
    """A store where, once armed, a concurrent guess from the same customer is
    counted right after a call's first check: what a burst does between the check
    and the settling of a call running beside it."""

    def __init__(self, budget: int) -> None:
        super().__init__()
        self.budget = budget
        self.armed: str | None = None

    async def counts(self, keys: Sequence[str], bucket: int) -> list[tuple[int, int]]:
        found = await super().counts(keys, bucket)
        if self.armed in keys:
            armed, self.armed = self.armed, None
            for _ in range(self.budget):
                await self.add([armed], bucket, ttl=2 * WINDOW + 1)
        return found


async def test_a_redemption_refused_after_it_ran_is_rolled_back_and_not_replayed(
    app: Litestar,
    client: httpx.AsyncClient,
    checkout: dict[str, str],
    summer: dict[str, Any],
    clock: FrozenClock,
) -> None:
    """The customer's budget runs out while the redemption runs: it is answered
    429, nothing of it stays, and its Idempotency-Key runs again once allowed."""
    store = FailureLandsMeanwhile(CUSTOMER_LIMIT)
    app.state.throttle.store = store
    store.armed = f"customer:{ref('id:c-late')}"
    body = {"code": "SUMMER20", "cart": TSHIRTS, "order_id": "ord-late", "customer_id": "c-late"}
    refused = await redeem(client, checkout, key="late-1", **body)
    assert refused.status_code == 429, refused.text
    assert refused.json()["code"] == "too_many_failed_attempts"
    listed = await client.get("/v1/redemptions", params={"order_id": "ord-late"}, headers=checkout)
    assert listed.json()["items"] == []

    clock.advance(seconds=3 * WINDOW)  # the budget is back
    retried = await redeem(client, checkout, key="late-1", **body)
    assert retried.status_code == 201, retried.text
    assert "idempotent-replayed" not in retried.headers
