"""Redemptions on a campaign while a 1,000,000-code batch of that campaign runs.

A batch round used to hold its campaign row ``FOR SHARE``, which every
redemption's ``UPDATE`` of the campaign's counters and budget waits for: a
round of 100,000 codes is a second or two, so checkout on the campaign
stalled for the whole batch. This measures what checkout sees now.

Starts its own PostgreSQL (default, durable settings) and `promo serve` (2
workers), seeds the benchmark's campaigns and two pools of single-use codes
of the campaign with a redemption limit and a budget (``seed.py``), then:

1. without a batch: wrk redeems codes of the first pool for ``--duration`` s;
2. during a batch: ``POST /v1/campaigns/{id}/code-batches`` of ``--count``
   codes on the same campaign (202; one worker generates it in the
   background, as in production), then at once the same wrk run on the
   second pool; the batch must still be running when wrk ends, or the row
   says so. Then the batch is followed to ``done``.

Both runs have a warm-up before them. Reproduce (from the repository root):

    .venv/bin/python -m benchmarks.batch_checkout                 # 1,000,000 codes
    .venv/bin/python -m benchmarks.batch_checkout --count 300000 --duration 5
"""

from __future__ import annotations

import argparse
import asyncio
import time
from contextlib import ExitStack
from dataclasses import dataclass

import httpx

from benchmarks.load import LoadResult, ensure_wrk, run_wrk
from benchmarks.seed import Pool, Seeded, seed_base, seed_codes
from benchmarks.servers import HttpServer, start_default_postgres, start_promo
from promo.auth.roles import Role
from promo.db import migrate
from promo.ids import Kind, encode
from promo.settings import Settings

SECRET = "benchmark-secret-not-for-production"  # noqa: S105 (a throwaway database)
CAMPAIGN = "limited-promo"  # a redemption limit and a budget: counters on its row
PATTERN = "CHK-#####-#####"
POLL_SECONDS = 0.1
BATCH_TIMEOUT_SECONDS = 1800
CODES_PER_SECOND = 4_000  # pool size: more than the service redeems per second


@dataclass(frozen=True)
class Outcome:
    without: LoadResult
    during: LoadResult
    batch_seconds: float
    running_at_end: bool  # the batch had not finished when the measured run ended


def batch_status(client: httpx.Client, batch_id: str) -> str:
    response = client.get(f"/v1/code-batches/{batch_id}")
    response.raise_for_status()
    status: str = response.json()["status"]
    return status


def measure(server: HttpServer, seeded: Seeded, options: argparse.Namespace) -> Outcome:
    checkout = seeded.keys[Role.CHECKOUT]
    marketer = {"Authorization": f"Bearer {seeded.keys[Role.MARKETER]}"}

    def redeem(pool: Pool, seconds: float, tag: str) -> LoadResult:
        result = run_wrk(
            server.url,
            "redeem.lua",
            [checkout, str(pool.next), str(pool.left), tag, str(options.threads)],
            connections=options.connections,
            threads=options.threads,
            duration=seconds,
        )
        pool.consume(result.used)
        return result

    pools = seeded.pools
    redeem(pools["without"], options.warmup, "w0")
    without = redeem(pools["without"], options.duration, "w1")
    redeem(pools["during"], options.warmup, "d0")

    campaign = encode(Kind.CAMPAIGN, seeded.campaigns[CAMPAIGN])
    with httpx.Client(base_url=server.url, headers=marketer, timeout=30) as client:
        started = time.perf_counter()
        response = client.post(
            f"/v1/campaigns/{campaign}/code-batches",
            json={"count": options.count, "pattern": PATTERN},
        )
        if response.status_code != 202:
            raise RuntimeError(f"batch: {response.status_code} {response.text[:200]}")
        batch_id = response.json()["id"]
        during = redeem(pools["during"], options.duration, "d1")
        running_at_end = batch_status(client, batch_id) in ("pending", "running")
        while (status := batch_status(client, batch_id)) in ("pending", "running"):
            if time.perf_counter() - started > BATCH_TIMEOUT_SECONDS:
                raise RuntimeError("the batch did not finish in time")
            time.sleep(POLL_SECONDS)
        if status != "done":
            raise RuntimeError(f"the batch ended {status}")
        batch_seconds = time.perf_counter() - started
    return Outcome(without, during, batch_seconds, running_at_end)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000, help="codes of the batch")
    parser.add_argument("--duration", type=float, default=15, help="seconds per measured run")
    parser.add_argument("--warmup", type=float, default=2, help="seconds of warm-up before each")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    options = parser.parse_args()
    ensure_wrk()
    size = int(CODES_PER_SECOND * (options.duration + options.warmup))
    with ExitStack() as stack:
        pg = start_default_postgres()
        stack.callback(pg.stop)
        settings = Settings(database_url=pg.create_database("bench"), secret=SECRET)
        migrate.upgrade(settings)
        seeded = asyncio.run(seed_base(settings))
        pools = {"without": Pool(CAMPAIGN, size), "during": Pool(CAMPAIGN, size)}
        asyncio.run(seed_codes(settings, seeded, pools))
        server = start_promo(settings.database_url, SECRET)
        stack.callback(server.stop)
        outcome = measure(server, seeded, options)

    print(
        f"redemptions on campaign '{CAMPAIGN}' (limit and budget), wrk {options.threads} "
        f"threads / {options.connections} connections, {options.duration:g} s each"
    )
    print(f"{'run':<44} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for label, result in (
        ("without a batch", outcome.without),
        (f"during a {options.count:,}-code batch", outcome.during),
    ):
        print(
            f"{label:<44} {result.rate:>8,.0f} {result.p50_ms:>8.1f} {result.p99_ms:>8.1f} "
            f"{result.errors:>7,}"
        )
    still = "yes" if outcome.running_at_end else "NO: the batch ended first"
    print(f"batch: request to done {outcome.batch_seconds:.1f} s; running when wrk ended: {still}")


if __name__ == "__main__":
    main()
