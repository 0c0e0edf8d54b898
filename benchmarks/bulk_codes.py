"""How fast a large code batch is generated and stored on PostgreSQL.

Starts a throwaway PostgreSQL (``tests/support/postgres.py``), migrates it,
creates a campaign, then generates batches through the service functions the
API and the CLI use (``create_batch`` + ``run_batch``: COPY into a staging
table, ``INSERT ... ON CONFLICT DO NOTHING`` into ``codes``, one committed
transaction per 100,000 codes), and prints seconds and rows/s. The second
batch lands in a table that already holds the first one's codes and indexes.

Reproduce (from the repository root; about a minute, mostly server start):

    .venv/bin/python -m benchmarks.bulk_codes            # 1,000,000 codes, twice
    .venv/bin/python -m benchmarks.bulk_codes --count 200000 --pattern 'B-##########'
    .venv/bin/python -m benchmarks.bulk_codes --streams 1   # one round at a time

The throwaway server runs with ``fsync=off``: figures are for CPU and the
database's own work, not for the disk. Wall time depends on what else the
machine runs, so the table also shows the CPU seconds spent by PostgreSQL
(its backends, read from the server's process accounting) and by this
process: on an otherwise idle machine, wall time is close to the larger of
the client's CPU and PostgreSQL's CPU divided by the two concurrent rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from promo.campaigns.models import Campaign
from promo.codes import generation
from promo.codes.batches import create_batch
from promo.codes.generation import run_batch
from promo.codes.models import Code
from promo.codes.patterns import generate_rows, parse_charset, parse_pattern
from promo.db import migrate
from promo.db.engine import create_engine, create_sessionmaker
from promo.settings import Settings
from tests.support.factories import campaign_row
from tests.support.postgres import PostgresServer, start_postgres

TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Run:
    wall: float
    server_cpu: float
    client_cpu: float


def server_cpu(server: PostgresServer) -> float:
    """CPU seconds of the server's finished backends (the postmaster's reaped children)."""
    pid = (server.datadir / "postmaster.pid").read_text().split()[0]
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[13]) + int(fields[14])) / TICKS  # cutime + cstime


def now() -> datetime:
    return datetime.now(UTC)


async def make_campaign(settings: Settings) -> int:
    engine = create_engine(settings)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            campaign = campaign_row(name="Benchmark", now=now())
            session.add(campaign)
            await session.flush()
            return campaign.id
    finally:
        await engine.dispose()


async def generate(settings: Settings, campaign_id: int, count: int, pattern: str) -> float:
    """Seconds to create and fully generate one batch (committed)."""
    engine = create_engine(settings)
    try:
        started = time.perf_counter()
        async with create_sessionmaker(engine)() as session, session.begin():
            campaign = await session.get(Campaign, campaign_id)
            assert campaign is not None
            batch = await create_batch(
                session,
                campaign,
                pattern=pattern,
                charset="safe",
                count=count,
                max_redemptions_per_code=1,
                affiliate_id=None,
                max_guess_ratio=settings.max_guess_ratio,
                now=now(),
            )
        ended = await run_batch(engine, batch.id, clock=now)
        elapsed = time.perf_counter() - started
        assert ended is not None
        assert ended.status == "done", ended.error
        async with engine.connect() as connection:
            stored = await connection.scalar(
                select(func.count()).select_from(Code).where(Code.batch_id == batch.id)
            )
        assert stored == count, (stored, count)
        return elapsed
    finally:
        await engine.dispose()


def measure(server: PostgresServer, settings: Settings, campaign_id: int, args: Any) -> Run:
    cpu_before, client_before = server_cpu(server), time.process_time()
    wall = asyncio.run(generate(settings, campaign_id, args.count, args.pattern))
    time.sleep(0.5)  # let the postmaster reap the run's backends
    return Run(wall, server_cpu(server) - cpu_before, time.process_time() - client_before)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--pattern", default="SUM-#####-#####")
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument(
        "--streams",
        type=int,
        default=generation.STREAMS_POSTGRES,
        help="concurrent rounds (the service's setting by default)",
    )
    args = parser.parse_args()
    generation.STREAMS_POSTGRES = args.streams

    load = os.getloadavg()[0]
    pattern = parse_pattern(args.pattern, parse_charset("safe"))
    started = time.perf_counter()
    generate_rows(pattern, args.count)
    in_memory = time.perf_counter() - started

    server = start_postgres()
    try:
        settings = Settings(database_url=server.create_database("bench"), secret="b" * 32)
        migrate.upgrade(settings)
        campaign_id = asyncio.run(make_campaign(settings))
        runs = [measure(server, settings, campaign_id, args) for _ in range(args.runs)]
    finally:
        server.stop()

    print(
        f"pattern {args.pattern} (space {pattern.space:.3e}), {args.count:,} codes per batch, "
        f"{args.streams} concurrent round(s)"
    )
    print(f"load average at start: {load:.1f} (other work on the machine slows wall time)")
    print(f"{'step':<38} {'wall s':>7} {'rows/s':>10} {'pg cpu s':>9} {'client cpu s':>13}")
    label = "draw codes in memory (no database)"
    print(f"{label:<38} {in_memory:>7.2f} {args.count / in_memory:>10,.0f}")
    for number, run in enumerate(runs, 1):
        label = f"batch {number}: generate + store"
        print(
            f"{label:<38} {run.wall:>7.2f} {args.count / run.wall:>10,.0f} "
            f"{run.server_cpu:>9.1f} {run.client_cpu:>13.1f}"
        )


if __name__ == "__main__":
    main()
