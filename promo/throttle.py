"""Attempt budgets against code guessing: per API key, per customer, per client address.

Promo codes are short secrets, so failed attempts (unknown or disabled
codes) are counted in a sliding window for each identity a checkout call
carries. Once any identity is over its budget, every validation and
redemption it makes is answered 429 with Retry-After until the window
slides on — valid codes included, or the change of answer would confirm a
guess. Calls that do not fail are not counted once answered, so callers that
do not guess are never slowed.

Every attempt reserves one unit of each budget before it runs and gives it
back when it turns out not to be a failure. Checking first and counting
afterwards would let a burst of simultaneous guesses all pass the check
before any of them is counted; with the reservation, failures plus attempts
still in flight never exceed a budget. The price: a budget also caps how
many calls of one identity may be in flight at once, so the per-key budget
must stay above a checkout's peak concurrency (see the README).

The window is the classic sliding-window counter: the current fixed bucket
plus the previous one weighted by how much of it still overlaps the window.
Counts live in process memory by default (one worker process) or in Redis
(PROMO_REDIS_URL) so that every worker and host shares them; Redis updates
are atomic (a Lua script), which Litestar's Store interface cannot offer.
"""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any, Protocol

import msgspec

from promo.errors import TooManyRequests


class Limit(msgspec.Struct, frozen=True):
    scope: str  # "key", "customer" or "ip"
    max_failures: int


class Store(Protocol):
    async def reserve(self, keys: Sequence[str], bucket: int, ttl: int) -> list[tuple[int, int]]:
        """Add one to each key's ``bucket``, all at once; for each key, (its count in
        ``bucket`` with this one, its count in ``bucket - 1``)."""
        ...

    async def release(self, keys: Sequence[str], bucket: int) -> None:
        """Take back one unit reserved in ``bucket`` for each key."""
        ...


class MemoryStore:
    """Counts in this process only: right for one worker, per process otherwise."""

    def __init__(self) -> None:
        self._counts: dict[tuple[str, int], int] = {}
        self._latest = 0

    async def reserve(self, keys: Sequence[str], bucket: int, ttl: int) -> list[tuple[int, int]]:
        if bucket > self._latest:
            # Buckets older than the previous one can never be read again.
            self._latest = bucket
            self._counts = {k: v for k, v in self._counts.items() if k[1] >= bucket - 1}
        counts = []
        for key in keys:
            current = self._counts[(key, bucket)] = self._counts.get((key, bucket), 0) + 1
            counts.append((current, self._counts.get((key, bucket - 1), 0)))
        return counts

    async def release(self, keys: Sequence[str], bucket: int) -> None:
        for key in keys:
            if self._counts.get((key, bucket), 0) > 0:
                self._counts[(key, bucket)] -= 1


# KEYS: each identity's current bucket, then each one's previous bucket. ARGV: the TTL.
_RESERVE = """
local n = #KEYS / 2
local counts = {}
for i = 1, n do
  local current = redis.call('INCR', KEYS[i])
  if current == 1 then redis.call('EXPIRE', KEYS[i], ARGV[1]) end
  counts[2 * i - 1] = current
  counts[2 * i] = tonumber(redis.call('GET', KEYS[n + i]) or '0')
end
return counts
"""

# A bucket that expired meanwhile is not brought back as a negative count.
_RELEASE = """
for i = 1, #KEYS do
  if (tonumber(redis.call('GET', KEYS[i]) or '0')) > 0 then redis.call('DECR', KEYS[i]) end
end
return 0
"""


class RedisStore:
    """Counts shared by every worker and host through Redis: one atomic script per
    reservation and per release, whatever the number of identities."""

    def __init__(self, url: str) -> None:
        import redis.asyncio as redis

        self._redis: Any = redis.from_url(url)
        self._reserve = self._redis.register_script(_RESERVE)
        self._release = self._redis.register_script(_RELEASE)

    @staticmethod
    def _name(key: str, bucket: int) -> str:
        return f"promo:throttle:{key}:{bucket}"

    async def reserve(self, keys: Sequence[str], bucket: int, ttl: int) -> list[tuple[int, int]]:
        names = [self._name(k, bucket) for k in keys] + [self._name(k, bucket - 1) for k in keys]
        flat = await self._reserve(keys=names, args=[ttl])
        return [(int(flat[i]), int(flat[i + 1])) for i in range(0, len(flat), 2)]

    async def release(self, keys: Sequence[str], bucket: int) -> None:
        await self._release(keys=[self._name(k, bucket) for k in keys])

    async def close(self) -> None:
        await self._redis.aclose()


class Attempt:
    """One validation or redemption holding a unit of each of its budgets."""

    def __init__(self) -> None:
        self.failed = False

    def fail(self) -> None:
        """Keep the reserved units: this attempt was a failure."""
        self.failed = True


class Throttle:
    def __init__(
        self,
        store: Store,
        limits: Sequence[Limit],
        window_seconds: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.limits = {limit.scope: limit for limit in limits}
        self.window = window_seconds
        self.clock = clock

    def _identities(self, identities: dict[str, str | None]) -> list[tuple[Limit, str]]:
        return [
            (self.limits[scope], f"{scope}:{value}")
            for scope, value in identities.items()
            if value and scope in self.limits
        ]

    @asynccontextmanager
    async def attempt(self, identities: dict[str, str | None]) -> AsyncIterator[Attempt]:
        """Reserve a unit of every identity's budget for the attempt in the block;
        raise 429 when any budget is spent. Unless the block calls ``fail()``, the
        units are given back when it ends, however it ends."""
        budgets = self._identities(identities)
        if not budgets:
            yield Attempt()
            return
        keys = [key for _, key in budgets]
        bucket, into = divmod(self.clock(), self.window)
        counts = await self.store.reserve(keys, int(bucket), ttl=self.window * 2 + 1)
        attempt = Attempt()
        try:
            self._refuse_over_budget(budgets, counts, into)
            yield attempt
        finally:
            if not attempt.failed:
                await self.store.release(keys, int(bucket))

    def _refuse_over_budget(
        self,
        budgets: Sequence[tuple[Limit, str]],
        counts: Sequence[tuple[int, int]],
        into: float,
    ) -> None:
        overlap = 1 - into / self.window
        refused: list[tuple[int, Limit]] = []
        for (limit, _), (current, previous) in zip(budgets, counts, strict=True):
            before = current - 1  # failures and attempts in flight, without this one
            if before + previous * overlap >= limit.max_failures:
                wait = self._wait(limit.max_failures, before, previous, into)
                refused.append((wait, limit))
        if refused:
            # The identity that stays over its budget longest decides when to come back.
            retry_after, limit = max(refused, key=lambda pair: pair[0])
            raise TooManyRequests(
                "too_many_failed_attempts",
                f"Too many failed attempts for this {limit.scope}; retry later",
                extra={"retry_after": retry_after},
            )

    def _wait(self, budget: int, current: int, previous: int, into: float) -> int:
        """Whole seconds until the estimate falls below ``budget``, counting no new
        failures (a refused identity cannot fail again until then)."""
        if current < budget:
            # Within this bucket: the previous bucket's weight slides out linearly.
            until = self.window * (1 - (budget - current) / previous) - into
        else:
            # Only in the next bucket, where this bucket's count slides out in turn.
            until = (self.window - into) + self.window * (1 - budget / current)
        # Strictly below the budget: past ``until``, with room for float rounding.
        return max(1, math.floor(until + 1e-6) + 1)
