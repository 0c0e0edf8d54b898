"""Attempt budgets against code guessing: per customer, per client address, per API key.

Promo codes are short secrets, so failed attempts (unknown or disabled
codes) are counted in a sliding window for each identity a checkout call
carries. Once a shopper's identity (customer, client address) is over its
budget, every validation and redemption it makes is answered 429 with
Retry-After until the window slides on — valid codes included, or the change
of answer would confirm a guess. Calls that do not fail are not counted once
answered, so callers that do not guess are never slowed.

The API key is different: every shopper of a store reaches promo through
its checkout's one key, so refusing the key would lock a whole store out
because of one abusive shopper. Its budget is a signal (``Limit.refuses``
false): past it, that key's failed attempts are slowed down (the guesser's
pace falls, honest shoppers with valid codes are not delayed), counted in
``promo_throttle_signals_total`` and logged once per window
(``distributed_guessing_suspected``). A hard cap per key that refuses like
the others is opt-in (``PROMO_THROTTLE_KEY_HARD_CAP``).

Each call is checked twice. Before it runs, an identity over its budget is
refused at once, without touching the database. After it runs, a failure is
counted and, if the count before it had already reached the budget, answered
429 instead of its result; a success is answered 429 too if its identity is
over budget by then. Checking only before would let a burst of simultaneous
guesses all pass before any is counted; with the check after, exactly the
budget of failures gets an answer, however many run at once, and calls that
do not fail are never held back by calls in flight.

The window is the classic sliding-window counter: the current fixed bucket
plus the previous one weighted by how much of it still overlaps the window.
Counts live in process memory by default (one worker process) or in Redis
(PROMO_REDIS_URL) so that every worker and host shares them; Redis updates
are atomic (a Lua script), which Litestar's Store interface cannot offer.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import msgspec
import structlog
from prometheus_client import Counter

from promo.errors import TooManyRequests

SIGNALS = Counter(
    "promo_throttle_signals",
    "Failed attempts past a signalling budget (slowed, not refused), by identity kind",
    ["scope"],
)
log = structlog.get_logger("promo.throttle")


class Limit(msgspec.Struct, frozen=True):
    scope: str  # "key", "customer" or "ip"
    max_failures: int
    # False: past the budget, failures are slowed and reported, never refused.
    refuses: bool = True
    # The identity's counter (several limits may read one: a signal and a cap).
    counter: str | None = None

    @property
    def counts(self) -> str:
        return self.counter or self.scope


class Store(Protocol):
    async def counts(self, keys: Sequence[str], bucket: int) -> list[tuple[int, int]]:
        """For each key: (its count in ``bucket``, its count in ``bucket - 1``)."""
        ...

    async def add(self, keys: Sequence[str], bucket: int, ttl: int) -> list[tuple[int, int]]:
        """Add one to each key's ``bucket``, atomically per key; the counts after."""
        ...


class MemoryStore:
    """Counts in this process only: right for one worker, per process otherwise."""

    def __init__(self) -> None:
        self._counts: dict[tuple[str, int], int] = {}
        self._latest = 0

    async def counts(self, keys: Sequence[str], bucket: int) -> list[tuple[int, int]]:
        return [
            (self._counts.get((key, bucket), 0), self._counts.get((key, bucket - 1), 0))
            for key in keys
        ]

    async def add(self, keys: Sequence[str], bucket: int, ttl: int) -> list[tuple[int, int]]:
        if bucket > self._latest:
            # Buckets older than the previous one can never be read again.
            self._latest = bucket
            self._counts = {k: v for k, v in self._counts.items() if k[1] >= bucket - 1}
        for key in keys:
            self._counts[(key, bucket)] = self._counts.get((key, bucket), 0) + 1
        return await self.counts(keys, bucket)


# KEYS: each identity's current bucket, then each one's previous bucket. ARGV: the TTL.
_ADD = """
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


class RedisStore:
    """Counts shared by every worker and host through Redis: one round trip per
    read or update, whatever the number of identities."""

    def __init__(self, url: str) -> None:
        import redis.asyncio as redis

        self._redis: Any = redis.from_url(url)
        self._add = self._redis.register_script(_ADD)

    @staticmethod
    def _names(keys: Sequence[str], bucket: int) -> list[str]:
        """Each key's ``bucket``, then each key's ``bucket - 1``."""
        return [f"promo:throttle:{k}:{b}" for b in (bucket, bucket - 1) for k in keys]

    @staticmethod
    def _pairs(flat: Sequence[Any], n: int) -> list[tuple[int, int]]:
        return [(int(flat[i] or 0), int(flat[n + i] or 0)) for i in range(n)]

    async def counts(self, keys: Sequence[str], bucket: int) -> list[tuple[int, int]]:
        return self._pairs(await self._redis.mget(self._names(keys, bucket)), len(keys))

    async def add(self, keys: Sequence[str], bucket: int, ttl: int) -> list[tuple[int, int]]:
        flat = await self._add(keys=self._names(keys, bucket), args=[ttl])
        n = len(keys)
        return self._pairs([flat[2 * i] for i in range(n)] + [flat[2 * i + 1] for i in range(n)], n)

    async def close(self) -> None:
        await self._redis.aclose()


class Attempt:
    """One validation or redemption that passed the check before it ran; it must
    end with ``failed()`` or ``succeeded()``, which may still answer 429."""

    def __init__(self, throttle: Throttle, budgets: list[tuple[Limit, str]]) -> None:
        self._throttle = throttle
        self._budgets = budgets

    async def failed(self) -> None:
        """Count this failure; 429 if the budget was already spent before it,
        a pause if a signalling budget was."""
        if self._budgets:
            await self._throttle._settle(self._budgets, failed=True)

    async def succeeded(self) -> None:
        """429 if the identity went over its budget while this call ran."""
        if self._budgets:
            await self._throttle._settle(self._budgets, failed=False)


class Throttle:
    def __init__(
        self,
        store: Store,
        limits: Sequence[Limit],
        window_seconds: int,
        clock: Callable[[], float] = time.time,
        slowdown_seconds: float = 0.0,
    ) -> None:
        self.store = store
        self.limits = list(limits)
        self.window = window_seconds
        self.clock = clock
        self.slowdown = slowdown_seconds
        # Signals already logged, per identity and bucket (one log line per window).
        self._logged: dict[str, int] = {}

    def _identities(self, identities: dict[str, str | None]) -> list[tuple[Limit, str]]:
        return [
            (limit, f"{limit.counts}:{value}")
            for limit in self.limits
            if (value := identities.get(limit.scope))
        ]

    async def _counts(
        self, budgets: Sequence[tuple[Limit, str]], bucket: int, *, add: bool
    ) -> list[tuple[int, int]]:
        """The counts of each budget's counter (each counter read or added once)."""
        keys = list(dict.fromkeys(key for _, key in budgets))
        if add:
            found = await self.store.add(keys, bucket, ttl=self.window * 2 + 1)
        else:
            found = await self.store.counts(keys, bucket)
        by_key = dict(zip(keys, found, strict=True))
        return [by_key[key] for _, key in budgets]

    async def begin(self, identities: dict[str, str | None]) -> Attempt:
        """Raise 429 when any refusing identity has spent its budget; else the attempt."""
        budgets = self._identities(identities)
        if budgets:
            bucket, into = divmod(self.clock(), self.window)
            counts = await self._counts(budgets, int(bucket), add=False)
            self._judge(budgets, counts, into, int(bucket))
        return Attempt(self, budgets)

    async def _settle(self, budgets: list[tuple[Limit, str]], *, failed: bool) -> None:
        bucket, into = divmod(self.clock(), self.window)
        counts = await self._counts(budgets, int(bucket), add=failed)
        # Judged on the count before this failure, so the budget-th one is answered.
        signalled = self._judge(budgets, counts, into, int(bucket), this_one=1 if failed else 0)
        if failed and signalled and self.slowdown > 0:
            await asyncio.sleep(self.slowdown)

    def _judge(
        self,
        budgets: Sequence[tuple[Limit, str]],
        counts: Sequence[tuple[int, int]],
        into: float,
        bucket: int,
        this_one: int = 0,
    ) -> bool:
        """429 when an estimate, not counting ``this_one`` failure, is at a
        refusing budget; True when it is at a signalling one (reported)."""
        overlap = 1 - into / self.window
        refused: list[tuple[int, Limit]] = []
        signalled = False
        for (limit, key), (current, previous) in zip(budgets, counts, strict=True):
            if current - this_one + previous * overlap < limit.max_failures:
                continue
            if limit.refuses:
                refused.append((self._wait(limit.max_failures, current, previous, into), limit))
            elif this_one:
                signalled = True
                self._signal(limit, key, bucket)
        if refused:
            # The identity that stays over its budget longest decides when to come back.
            retry_after, limit = max(refused, key=lambda pair: pair[0])
            raise TooManyRequests(
                "too_many_failed_attempts",
                f"Too many failed attempts for this {limit.scope}; retry later",
                extra={"retry_after": retry_after},
            )
        return signalled

    def _signal(self, limit: Limit, key: str, bucket: int) -> None:
        SIGNALS.labels(limit.scope).inc()
        if self._logged.get(key) != bucket:
            if len(self._logged) > 10_000:
                self._logged.clear()
            self._logged[key] = bucket
            log.warning(
                "distributed_guessing_suspected",
                identity=key,
                budget=limit.max_failures,
                window_seconds=self.window,
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
