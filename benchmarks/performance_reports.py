"""Performance reports (issue 16): a report over 10,000,000 redemptions' roll-ups,
and what counting validations costs the validation route.

Starts its own PostgreSQL (default, durable settings) and migrates it, then:

**reports**: 10 campaigns, 100 affiliates, 1,000 dedicated codes (one per
affiliate and campaign, six channels); ``report_hours`` seeded straight with
``INSERT ... SELECT generate_series`` for one year (2025-07-01 to 2026-07-01
UTC): each (hour, code) has sales with probability 0.57 (a hash of both),
1 to 3 redemptions, so about 5,000,000 hourly rows and ~10,000,000
redemptions (the exact count is printed); ``report_days`` from those hours,
and ``report_weeks`` and ``report_months`` from those days, with the roll-up's
own query (``promo.reports.rollup.sums_of_parts``); ``sales_until`` at the
year's end (nothing left for the ledger). `promo serve` (2 workers) answers
``GET /v1/reports/performance`` for each shape, one request at a time,
``--repeat`` times after one warm-up: the median and the slowest wall time
seen by the client, the rows answered, and the time of the same report by
the service function in this process (SQL and rows, no HTTP).

**counting**: the benchmark's 100,000 codes over 10 campaigns (``seed.py``);
wrk validates random codes (``lua/validate.lua``) against two `promo serve`
(2 workers each) on the same database: one as shipped, one whose
interpreters load ``benchmarks/nocount/sitecustomize.py`` (the counter's
``count`` does nothing, so nothing is flushed). They take turns (with,
without, with, without, ...) so that both see the same machine; the table
gives each run's rate, p50, p99 and the CPU per request of the workers and
of PostgreSQL, and the time of ``ValidationCounter.count`` itself.

Reproduce (from the repository root):

    .venv/bin/python -m benchmarks.performance_reports                  # both parts
    .venv/bin/python -m benchmarks.performance_reports --only reports --repeat 5
    .venv/bin/python -m benchmarks.performance_reports --only counting --duration 5
"""

from __future__ import annotations

import argparse
import asyncio
import builtins
import os
import statistics
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy import insert, text

from benchmarks.load import LoadResult, ensure_wrk, run_wrk
from benchmarks.seed import Pool, Seeded, seed_base, seed_codes
from benchmarks.servers import (
    HttpServer,
    cpu_seconds,
    postgres_cpu_seconds,
    start_default_postgres,
    start_promo,
)
from promo.auth.roles import Role
from promo.db import migrate
from promo.db.engine import create_engine, create_sessionmaker
from promo.reports.counting import ValidationCounter
from promo.reports.grains import MONTH, WEEK, hour_of
from promo.reports.models import FIGURE_COLUMNS
from promo.reports.rollup import IDENTITY, sums_of_parts
from promo.reports.routes import buckets_of
from promo.reports.service import performance
from promo.settings import Settings
from tests.support.postgres import PostgresServer

SECRET = "benchmark-secret-not-for-production"  # noqa: S105 (a throwaway database)
NOCOUNT = Path(__file__).resolve().parent / "nocount"
RESULTS = Path(__file__).resolve().parent / "results"
YEAR_START = datetime(2025, 7, 1, tzinfo=UTC)
YEAR_END = datetime(2026, 7, 1, tzinfo=UTC)
AFFILIATES = 100
CAMPAIGNS = 10
OCCUPANCY_PERCENT = 57  # of (hour, code) pairs with sales
TARGET_MS = 200
VALIDATE_CODES = 100_000

# (group_by, bucket, tz, from, to): the year, and one month by day.
SHAPES = [
    ("campaign", "month", "Europe/Paris", "2025-07-01", "2026-07-01"),
    ("affiliate", "month", "Europe/Paris", "2025-07-01", "2026-07-01"),
    ("channel", "week", "America/New_York", "2025-07-07", "2026-06-29"),
    ("campaign", "month", "UTC", "2025-07-01", "2026-07-01"),
    ("code", "month", "Europe/Paris", "2025-07-01", "2026-07-01"),
    ("campaign", "day", "Europe/Paris", "2026-03-01", "2026-04-01"),
]

AFFILIATE_ROWS = text(
    """
    INSERT INTO affiliates (name, email, email_key, payout_thresholds, holding_days, active,
                            created_at, updated_at)
    SELECT 'Affiliate ' || i, 'aff' || i || '@bench.test', 'aff' || i || '@bench.test',
           '{}', 30, true, now(), now()
    FROM generate_series(1, :count) AS i
    """
)
CODE_ROWS = text(
    """
    INSERT INTO codes (campaign_id, code, canonical, kind, used, active, live, affiliate_id,
                       channel, created_at)
    SELECT c.id, 'R' || lpad(c.id::text, 3, '0') || '-' || lpad(a.id::text, 4, '0'),
           'R' || lpad(c.id::text, 3, '0') || lpad(a.id::text, 4, '0'), 'dedicated', 0,
           true, true, a.id,
           (ARRAY['instagram', 'youtube', 'podcast', 'newsletter', 'tiktok', 'blog'])
               [1 + (a.id + c.id) % 6],
           now()
    FROM (SELECT id FROM campaigns ORDER BY id LIMIT :campaigns) AS c
    CROSS JOIN affiliates AS a
    """
)
# x: a hash of (hour, code) in [0, 1000003); sales where x % 100 < OCCUPANCY, 1-3 of them.
# In hour order, as the roll-up writes them (hour after hour): unordered, the plan
# laid each code's year out in one run, so that a report's edge hours (every code
# at a few hours) were as many heap pages as rows.
HOUR_ROWS = text(
    """
    INSERT INTO report_hours (hour, code_id, campaign_id, affiliate_id, currency,
        validations_tried, validations_valid, redemptions, revenue, discount, commission,
        refunds, refunds_count)
    SELECT h, c.id, c.campaign_id, c.affiliate_id, 'EUR',
           3 * s.r + s.x % 4, 2 * s.r, s.r, s.r * 4000 + s.x % 1000, s.r * 800, s.r * 400,
           CASE WHEN s.x % 20 = 0 THEN 4000 ELSE 0 END, CASE WHEN s.x % 20 = 0 THEN 1 ELSE 0 END
    FROM generate_series(CAST(:first AS integer), CAST(:end AS integer) - 1) AS h
    CROSS JOIN (SELECT id, campaign_id, affiliate_id FROM codes WHERE kind = 'dedicated') AS c
    CROSS JOIN LATERAL (
        SELECT x, 1 + x % 3 AS r
        FROM (SELECT (CAST(h AS bigint) * 2654435761 + c.id * 40503) % 1000003 AS x) AS hashed
    ) AS s
    WHERE s.x % 100 < :occupancy
    ORDER BY h, c.id
    """
)
DAY_ROWS = text(
    """
    INSERT INTO report_days (day, code_id, campaign_id, affiliate_id, currency,
        validations_tried, validations_valid, redemptions, revenue, discount, commission,
        refunds, refunds_count)
    SELECT hour / 24, code_id, min(campaign_id), min(affiliate_id), min(currency),
           sum(validations_tried), sum(validations_valid), sum(redemptions), sum(revenue),
           sum(discount), sum(commission), sum(refunds), sum(refunds_count)
    FROM report_hours GROUP BY hour / 24, code_id
    """
)
ROLLED_UP = text(
    "INSERT INTO report_rollup_state (id, sales_until, updated_at) VALUES (1, :until, now())"
)


@dataclass(frozen=True)
class Timing:
    shape: tuple[str, str, str, str, str]
    rows: int
    http_median_ms: float
    http_max_ms: float
    service_median_ms: float


async def _autocommit(settings: Settings, *statements: str) -> None:
    engine = create_engine(settings)
    try:
        connection = await engine.connect()
        try:
            connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
            for statement in statements:
                await connection.execute(text(statement))
        finally:
            await connection.close()
    finally:
        await engine.dispose()


async def seed_rollups(settings: Settings) -> tuple[int, int, int, int, int]:
    """The codes and a year of roll-ups; (hour, day, week and month rows, redemptions)."""
    engine = create_engine(settings)
    try:
        async with engine.begin() as connection:
            await connection.execute(AFFILIATE_ROWS, {"count": AFFILIATES})
            await connection.execute(CODE_ROWS, {"campaigns": CAMPAIGNS})
            await connection.execute(
                HOUR_ROWS,
                {
                    "first": hour_of(YEAR_START),
                    "end": hour_of(YEAR_END),
                    "occupancy": OCCUPANCY_PERCENT,
                },
            )
            await connection.execute(DAY_ROWS)
            for grain in (WEEK, MONTH):
                units = grain.units(hour_of(YEAR_START), hour_of(YEAR_END))
                columns = [grain.name, "code_id", *IDENTITY, *FIGURE_COLUMNS]
                source = sums_of_parts(grain, units, FIGURE_COLUMNS)
                await connection.execute(insert(grain.table).from_select(columns, source))
            await connection.execute(ROLLED_UP, {"until": YEAR_END})
            counted = (
                await connection.execute(
                    text(
                        "SELECT (SELECT count(*) FROM report_hours), "
                        "(SELECT count(*) FROM report_days), "
                        "(SELECT count(*) FROM report_weeks), "
                        "(SELECT count(*) FROM report_months), "
                        "(SELECT sum(redemptions) FROM report_months)"
                    )
                )
            ).one()
    finally:
        await engine.dispose()
    await _autocommit(settings, "VACUUM ANALYZE", "CHECKPOINT")
    hour_rows, day_rows, week_rows, month_rows, redemptions = (int(n) for n in counted)
    return hour_rows, day_rows, week_rows, month_rows, redemptions


async def service_ms(
    settings: Settings, shape: tuple[str, str, str, str, str], repeat: int
) -> float:
    """The median time of ``promo.reports.service.performance`` for ``shape``."""
    group_by, bucket, tz, start, end = shape
    buckets = buckets_of(start, end, bucket, tz)  # type: ignore[arg-type]
    engine = create_engine(settings)
    times = []
    try:
        sessionmaker = create_sessionmaker(engine)
        for _ in range(repeat + 1):
            async with sessionmaker() as session, session.begin():
                started = time.perf_counter()
                await performance(session, buckets, group_by)  # type: ignore[arg-type]
                times.append((time.perf_counter() - started) * 1000)
    finally:
        await engine.dispose()
    return statistics.median(times[1:])


def measure_reports(
    server: HttpServer, settings: Settings, marketer: str, repeat: int
) -> list[Timing]:
    timings = []
    headers = {"Authorization": f"Bearer {marketer}"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=120) as client:
        for shape in SHAPES:
            group_by, bucket, tz, start, end = shape
            params = {"group_by": group_by, "bucket": bucket, "tz": tz, "from": start, "to": end}
            times, rows = [], 0
            for attempt in range(repeat + 1):
                started = time.perf_counter()
                response = client.get("/v1/reports/performance", params=params)
                elapsed = (time.perf_counter() - started) * 1000
                if response.status_code != 200:
                    raise RuntimeError(f"{shape}: {response.status_code} {response.text[:300]}")
                rows = len(response.json()["rows"])
                if attempt:
                    times.append(elapsed)
            timings.append(
                Timing(
                    shape=shape,
                    rows=rows,
                    http_median_ms=statistics.median(times),
                    http_max_ms=max(times),
                    service_median_ms=asyncio.run(service_ms(settings, shape, repeat)),
                )
            )
    return timings


def count_ns() -> float:
    """Nanoseconds per ``ValidationCounter.count`` over 100,000 codes."""
    counter = ValidationCounter()
    now = datetime.now(UTC)
    calls = 1_000_000
    started = time.perf_counter()
    for i in range(calls):
        counter.count(
            code_id=i % VALIDATE_CODES,
            campaign_id=1,
            affiliate_id=None,
            currency="EUR",
            valid=True,
            now=now,
        )
    return (time.perf_counter() - started) / calls * 1e9


@dataclass(frozen=True)
class CountingRun:
    counting: bool
    result: LoadResult


def measure_counting(
    pg: PostgresServer, servers: dict[bool, HttpServer], checkout: str, options: argparse.Namespace
) -> list[CountingRun]:
    def validate(server: HttpServer, seconds: float, tag: str) -> LoadResult:
        return run_wrk(
            server.url,
            "validate.lua",
            [checkout, "1", str(VALIDATE_CODES), tag],
            connections=options.connections,
            threads=options.threads,
            duration=seconds,
        )

    runs = []
    for counting, server in servers.items():
        validate(server, options.warmup, f"w{int(counting)}")
    for turn in range(options.turns):
        for counting in (True, False):
            server = servers[counting]
            app_before, db_before = cpu_seconds(server.workers), postgres_cpu_seconds(pg)
            result = validate(server, options.duration, f"m{turn}{int(counting)}")
            app_ms = (cpu_seconds(server.workers) - app_before) * 1000 / max(result.requests, 1)
            db_ms = (postgres_cpu_seconds(pg) - db_before) * 1000 / max(result.requests, 1)
            runs.append(CountingRun(counting, replace(result, app_cpu_ms=app_ms, db_cpu_ms=db_ms)))
    return runs


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


OUTPUT: list[str] = []


def say(*parts: object, flush: bool = False) -> None:
    """Print, and keep the line for ``benchmarks/results/<timestamp>-performance-reports.md``."""
    line = " ".join(str(part) for part in parts)
    OUTPUT.append(line)
    builtins.print(line, flush=flush)


def write_results() -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS / f"{stamp}-performance-reports.md"
    command = " ".join(["python -m benchmarks.performance_reports", *sys.argv[1:]])
    path.write_text(f"`{command}`\n\n" + "\n".join(OUTPUT) + "\n")
    return path


def print_reports(
    seeded: tuple[int, int, int, int, int], timings: list[Timing], seed_seconds: float
) -> None:
    hour_rows, day_rows, week_rows, month_rows, redemptions = seeded
    say(
        f"\nroll-ups: {redemptions:,} redemptions in {hour_rows:,} hourly, {day_rows:,} daily, "
        f"{week_rows:,} weekly and {month_rows:,} monthly rows (1,000 codes, one year), "
        f"seeded in {seed_seconds:.0f} s"
    )
    say(
        "| group_by | bucket | tz | period | rows | HTTP median ms | HTTP max ms "
        f"| service median ms | vs {TARGET_MS} ms |"
    )
    say("|---|---|---|---|--:|--:|--:|--:|--:|")
    for t in timings:
        group_by, bucket, tz, start, end = t.shape
        say(
            f"| {group_by} | {bucket} | {tz} | {start} to {end} | {t.rows:,} "
            f"| {t.http_median_ms:.0f} | {t.http_max_ms:.0f} | {t.service_median_ms:.0f} "
            f"| {t.http_median_ms / TARGET_MS:.2f} |"
        )


def print_counting(runs: list[CountingRun], ns: float) -> None:
    say(f"\nValidationCounter.count: {ns:.0f} ns a call (1,000,000 calls, 100,000 codes)")
    say("| turn | counting | req/s | p50 ms | p99 ms | app CPU ms/req | PG CPU ms/req | errors |")
    say("|--:|---|--:|--:|--:|--:|--:|--:|")
    for index, run in enumerate(runs):
        r = run.result
        say(
            f"| {index // 2 + 1} | {'on' if run.counting else 'off'} | {r.rate:,.0f} "
            f"| {r.p50_ms:.1f} | {r.p99_ms:.1f} | {r.app_cpu_ms or 0:.3f} "
            f"| {r.db_cpu_ms or 0:.3f} | {r.errors} |"
        )
    on = [r.result.rate for r in runs if r.counting]
    off = [r.result.rate for r in runs if not r.counting]
    say(
        f"median req/s: on {statistics.median(on):,.0f}, off {statistics.median(off):,.0f}: "
        f"on / off = {statistics.median(on) / statistics.median(off):.3f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["reports", "counting"], default=None)
    parser.add_argument("--repeat", type=int, default=7, help="timed requests per report shape")
    parser.add_argument("--duration", type=float, default=10, help="seconds per counting run")
    parser.add_argument("--warmup", type=float, default=2)
    parser.add_argument("--turns", type=int, default=3, help="on/off pairs of counting runs")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    options = parser.parse_args()
    say(f"load average at start: {_load()} on {os.cpu_count()} CPUs", flush=True)
    with ExitStack() as stack:
        pg = start_default_postgres()
        stack.callback(pg.stop)
        settings = Settings(database_url=pg.create_database("bench"), secret=SECRET)
        migrate.upgrade(settings)
        seeded: Seeded = asyncio.run(seed_base(settings))
        if options.only in (None, "reports"):
            started = time.perf_counter()
            counts = asyncio.run(seed_rollups(settings))
            seed_seconds = time.perf_counter() - started
            server = start_promo(settings.database_url, SECRET)
            stack.callback(server.stop)
            timings = measure_reports(server, settings, seeded.keys[Role.MARKETER], options.repeat)
            server.stop()
            print_reports(counts, timings, seed_seconds)
            say(f"load average now: {_load()}", flush=True)
        if options.only in (None, "counting"):
            ensure_wrk()
            asyncio.run(seed_codes(settings, seeded, {"many": Pool("many", VALIDATE_CODES)}))
            # Two servers at once: pools of 10 (8 requests in flight per worker) keep
            # them within PostgreSQL's 100 connections.
            # Each server's stop is registered as soon as it runs: one that fails to
            # start does not leave the other running.
            servers = {True: start_promo(settings.database_url, SECRET, pool_size=10)}
            stack.callback(servers[True].stop)
            servers[False] = start_promo(
                settings.database_url, SECRET, pool_size=10, env={"PYTHONPATH": str(NOCOUNT)}
            )
            stack.callback(servers[False].stop)
            runs = measure_counting(pg, servers, seeded.keys[Role.CHECKOUT], options)
            print_counting(runs, count_ns())
            say(f"load average at the end: {_load()}", flush=True)
    builtins.print(f"written to {write_results()}")


if __name__ == "__main__":
    main()
