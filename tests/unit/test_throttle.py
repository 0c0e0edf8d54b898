"""The sliding-window attempt budgets of promo.throttle, on a clock moved by hand."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from promo.checkout.throttle import Limit, MemoryStore, Throttle
from promo.errors import TooManyRequests

WINDOW = 60
START = 60.0 * 29_000_000  # the first instant of a bucket


class HandClock:
    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def make_throttle(
    clock: HandClock, *, key: int = 5, customer: int = 3, ip: int = 4
) -> tuple[Throttle, MemoryStore]:
    store = MemoryStore()
    limits = [Limit("key", key), Limit("customer", customer), Limit("ip", ip)]
    return Throttle(store, limits, WINDOW, clock=clock), store


async def fail(throttle: Throttle, who: dict[str, str | None], times: int = 1) -> None:
    for _ in range(times):
        await (await throttle.begin(who)).failed()


async def refused(throttle: Throttle, who: dict[str, str | None]) -> TooManyRequests | None:
    """Try once, succeeding when let through; the refusal, if any."""
    try:
        await (await throttle.begin(who)).succeeded()
    except TooManyRequests as exc:
        return exc
    return None


KEY_A: dict[str, str | None] = {"key": "a"}


async def test_failures_under_the_limit_pass() -> None:
    throttle, _ = make_throttle(HandClock(), key=5)
    await fail(throttle, KEY_A, 4)
    assert await refused(throttle, KEY_A) is None


async def test_reaching_the_limit_refuses_with_a_retry_after() -> None:
    throttle, _ = make_throttle(HandClock(), key=5)
    await fail(throttle, KEY_A, 5)
    exc = await refused(throttle, KEY_A)
    assert exc is not None
    assert exc.code == "too_many_failed_attempts"
    assert "key" in exc.detail
    retry_after = exc.extra["retry_after"]
    assert isinstance(retry_after, int)
    assert retry_after >= 1


async def test_previous_bucket_weighs_less_as_the_window_slides() -> None:
    clock = HandClock(START + 30)
    throttle, _ = make_throttle(clock, key=10)
    await fail(throttle, KEY_A, 10)
    clock.now = START + WINDOW  # the next bucket: all 10 still inside the window
    assert await refused(throttle, KEY_A) is not None
    clock.now = START + WINDOW + 6  # a tenth has slid out: 9 count
    assert await refused(throttle, KEY_A) is None
    await fail(throttle, KEY_A)  # 1 + 10 * 0.9 = 10 again
    assert await refused(throttle, KEY_A) is not None
    clock.now = START + WINDOW + 30  # 1 + 10 * 0.5
    assert await refused(throttle, KEY_A) is None


async def test_buckets_older_than_the_window_are_forgotten() -> None:
    clock = HandClock()
    throttle, store = make_throttle(clock, key=5)
    await fail(throttle, KEY_A, 5)
    clock.now = START + 2 * WINDOW
    assert await refused(throttle, KEY_A) is None
    await fail(throttle, {"key": "b"})  # any write in a later bucket prunes old ones
    first = int(START // WINDOW)
    # Bucket first + 1 reads bucket first as its previous one: pruned, so empty.
    assert await store.counts(["key:a"], first + 1) == [(0, 0)]


async def test_identities_without_a_value_are_ignored() -> None:
    throttle, _ = make_throttle(HandClock(), key=100, customer=1, ip=1)
    nobody: dict[str, str | None] = {"key": "a", "customer": None, "ip": ""}
    await fail(throttle, nobody, 3)
    assert await refused(throttle, {"key": "b", "customer": None, "ip": None}) is None
    assert await refused(throttle, {"key": "b", "customer": "None", "ip": "None"}) is None


async def test_scopes_without_a_limit_are_not_counted() -> None:
    throttle, _ = make_throttle(HandClock(), key=100)
    await fail(throttle, {"key": "a", "device": "d1"}, 10)
    assert await refused(throttle, {"key": "b", "device": "d1"}) is None


async def test_each_identity_spends_its_own_budget() -> None:
    throttle, _ = make_throttle(HandClock(), key=5, customer=3, ip=4)
    await fail(throttle, {"key": "a", "customer": "c1"}, 3)
    assert await refused(throttle, {"key": "b", "customer": "c1"}) is not None
    assert await refused(throttle, {"key": "a", "customer": "c2"}) is None
    await fail(throttle, {"key": "a", "ip": "203.0.113.9"}, 2)
    exc = await refused(throttle, {"key": "a"})
    assert exc is not None
    assert "key" in exc.detail
    assert await refused(throttle, {"key": "b", "ip": "203.0.113.9"}) is None


async def test_retry_after_of_failures_all_in_this_bucket_reaches_into_the_next() -> None:
    clock = HandClock(START + 50)
    throttle, store = make_throttle(clock, key=10)
    # Twice the budget (spent before the budget was lowered to 10): half must slide
    # out of the window.
    await fail(Throttle(store, [Limit("key", 20)], WINDOW, clock=clock), KEY_A, 20)
    exc = await refused(throttle, KEY_A)
    assert exc is not None
    # 10 s to the next bucket, then 30 s until 20 * (1 - 30/60) < 10.
    assert exc.extra["retry_after"] == 41
    clock.now = START + 50 + 40
    assert await refused(throttle, KEY_A) is not None
    clock.now = START + 50 + 41
    assert await refused(throttle, KEY_A) is None


async def test_retry_after_is_the_longest_wait_of_the_refused_identities() -> None:
    clock = HandClock(START + 10)
    throttle, store = make_throttle(clock, key=5, customer=3)
    who: dict[str, str | None] = {"key": "a", "customer": "c1"}
    generous = Throttle(store, [Limit("key", 6), Limit("customer", 6)], WINDOW, clock=clock)
    await fail(generous, who, 6)
    exc = await refused(throttle, who)
    assert exc is not None
    # The key comes back once 6 * (1 - x/60) < 5 in the next bucket (x > 10, 61 s from
    # now); the customer only once 6 * (1 - x/60) < 3 (x > 30, 81 s from now).
    assert exc.extra["retry_after"] == 81
    assert "customer" in exc.detail
    clock.now = START + 10 + 80
    assert await refused(throttle, who) is not None
    clock.now = START + 10 + 81
    assert await refused(throttle, who) is None


attempts = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=3 * WINDOW),  # seconds since START
        st.sampled_from(["c1", "c2", None]),
    ),
    min_size=1,
    max_size=60,
)


@settings(max_examples=200, deadline=None)
@given(
    attempts=attempts,
    key_limit=st.integers(min_value=1, max_value=15),
    customer_limit=st.integers(min_value=1, max_value=15),
    later=st.integers(min_value=0, max_value=2 * WINDOW),
)
def test_retry_after_is_exactly_when_the_caller_may_come_back(
    attempts: list[tuple[int, str | None]], key_limit: int, customer_limit: int, later: int
) -> None:
    """Callers fail whenever they are let through; whenever one is refused, it passes
    again Retry-After seconds later, and not a second sooner."""

    async def scenario() -> None:
        clock = HandClock()
        throttle, _ = make_throttle(clock, key=key_limit, customer=customer_limit)
        for offset, customer in sorted(attempts, key=lambda a: a[0]):
            clock.now = START + offset
            who: dict[str, str | None] = {"key": "k", "customer": customer}
            if await refused(throttle, who) is None:
                await fail(throttle, who)
        clock.now += later
        for customer in ("c1", "c2", None):
            who = {"key": "k", "customer": customer}
            now = clock.now
            exc = await refused(throttle, who)
            if exc is None:
                continue
            retry_after = exc.extra["retry_after"]
            assert retry_after >= 1
            clock.now = now + retry_after
            assert await refused(throttle, who) is None
            if retry_after > 1:
                clock.now = now + retry_after - 1
                assert await refused(throttle, who) is not None
            clock.now = now

    asyncio.run(scenario())


@pytest.mark.parametrize("limit", [1, 7])
async def test_valid_attempts_spend_nothing(limit: int) -> None:
    throttle, _ = make_throttle(HandClock(), key=limit)
    for _ in range(10 * limit):
        assert await refused(throttle, KEY_A) is None  # let through, and a success
    assert await refused(throttle, KEY_A) is None


async def test_a_burst_of_simultaneous_guesses_gets_exactly_the_budget_answered() -> None:
    """Ten guesses that all passed the check before any failed, against a budget
    of 3: three failures are answered, the seven others are 429 after the fact."""
    throttle, _ = make_throttle(HandClock(), key=3)
    attempts = [await throttle.begin(KEY_A) for _ in range(10)]
    waits = []
    for attempt in attempts:
        try:
            await attempt.failed()
        except TooManyRequests as exc:
            waits.append(exc.extra["retry_after"])
    assert len(waits) == 7
    assert min(waits) >= 1
    assert await refused(throttle, KEY_A) is not None


async def test_a_success_in_flight_when_the_budget_runs_out_is_refused_too() -> None:
    """Otherwise a burst would tell its one valid guess by the one answer not 429."""
    throttle, _ = make_throttle(HandClock(), key=3)
    valid = await throttle.begin(KEY_A)
    guesses = [await throttle.begin(KEY_A) for _ in range(3)]
    for guess in guesses:
        await guess.failed()
    with pytest.raises(TooManyRequests):
        await valid.succeeded()


async def test_calls_in_flight_hold_no_budget() -> None:
    """A busy checkout's simultaneous good calls are never refused for being many."""
    throttle, _ = make_throttle(HandClock(), key=1)
    attempts = [await throttle.begin(KEY_A) for _ in range(500)]
    for attempt in attempts:
        await attempt.succeeded()
    await (await throttle.begin(KEY_A)).failed()  # the one failure the budget allows
    assert await refused(throttle, KEY_A) is not None


async def test_a_refused_attempt_spends_nothing() -> None:
    clock = HandClock(START + 10)
    throttle, _ = make_throttle(clock, key=2)
    await fail(throttle, KEY_A, 2)
    first = await refused(throttle, KEY_A)
    for _ in range(50):
        assert await refused(throttle, KEY_A) is not None
    last = await refused(throttle, KEY_A)
    assert first is not None
    assert last is not None
    assert first.extra["retry_after"] == last.extra["retry_after"]
