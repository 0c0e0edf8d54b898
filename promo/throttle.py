"""Attempt budgets against code guessing: per API key, per customer, per client address.

Promo codes are short secrets, so failed attempts (unknown or disabled
codes) are counted in a sliding window for each identity a checkout call
carries. Once any identity is over its budget, every validation and
redemption it makes is answered 429 with Retry-After until the window
slides on — valid codes included, or the change of answer would confirm a
guess. Callers that do not fail are never counted, so they are never slowed.

The window is the classic sliding-window counter: the current fixed bucket
plus the previous one weighted by how much of it still overlaps the window.
Counts live in process memory by default (one worker process) or in Redis
(PROMO_REDIS_URL) so that every worker and host shares them; Redis updates
are atomic (a Lua script), which Litestar's Store interface cannot offer.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import msgspec

from promo.errors import TooManyRequests


class Limit(msgspec.Struct, frozen=True):
    scope: str  # "key", "customer" or "ip"
    max_failures: int


class Store(Protocol):
    async def add(self, key: str, bucket: int, ttl: int) -> None: ...

    async def counts(self, key: str, bucket: int) -> tuple[int, int]:
        """(count in ``bucket``, count in ``bucket - 1``)."""
        ...


class MemoryStore:
    """Counts in this process only: right for one worker, per process otherwise."""

    def __init__(self) -> None:
        self._counts: dict[tuple[str, int], int] = {}
        self._latest = 0

    async def add(self, key: str, bucket: int, ttl: int) -> None:
        self._counts[(key, bucket)] = self._counts.get((key, bucket), 0) + 1
        if bucket > self._latest:
            # Buckets older than the previous one can never be read again.
            self._latest = bucket
            self._counts = {k: v for k, v in self._counts.items() if k[1] >= bucket - 1}

    async def counts(self, key: str, bucket: int) -> tuple[int, int]:
        return self._counts.get((key, bucket), 0), self._counts.get((key, bucket - 1), 0)


_INCREMENT = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return n
"""


class RedisStore:
    """Counts shared by every worker and host through Redis."""

    def __init__(self, url: str) -> None:
        import redis.asyncio as redis

        self._redis: Any = redis.from_url(url)
        self._increment = self._redis.register_script(_INCREMENT)

    async def add(self, key: str, bucket: int, ttl: int) -> None:
        await self._increment(keys=[f"promo:throttle:{key}:{bucket}"], args=[ttl])

    async def counts(self, key: str, bucket: int) -> tuple[int, int]:
        current, previous = await self._redis.mget(
            f"promo:throttle:{key}:{bucket}", f"promo:throttle:{key}:{bucket - 1}"
        )
        return int(current or 0), int(previous or 0)

    async def close(self) -> None:
        await self._redis.aclose()


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

    async def check(self, identities: dict[str, str | None]) -> None:
        """Raise 429 when any identity has spent its budget of failures."""
        now = self.clock()
        bucket, into = divmod(now, self.window)
        overlap = 1 - into / self.window
        refused: list[tuple[int, Limit]] = []
        for limit, key in self._identities(identities):
            current, previous = await self.store.counts(key, int(bucket))
            if current + previous * overlap >= limit.max_failures:
                wait = self._wait(limit.max_failures, current, previous, into)
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

    async def record_failure(self, identities: dict[str, str | None]) -> None:
        bucket = int(self.clock() // self.window)
        for _, key in self._identities(identities):
            await self.store.add(key, bucket, ttl=self.window * 2 + 1)
