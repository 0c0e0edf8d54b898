"""One benchmark run (issue 9): everything it needs, started and stopped by itself.

1. A throwaway PostgreSQL with default settings; `promo db upgrade`; seed
   (``seed.py``): campaigns, API keys, 100k codes to validate, a pool of
   single-use codes per redemption run, the hot code; the ledger of the
   export is seeded by ``ledger_export.py``'s functions.
2. `promo serve` (2 workers): idle RSS per worker, the checkout scenarios
   with wrk (``scenarios.py``, ``lua/``), loaded RSS, the code batch and the
   ledger export (``bulk_api.py``).
3. The bare Litestar app (``bare_app.py``, same server settings): the same
   scenarios, the ceiling of a Python endpoint doing the naive work.
4. pgbench with the same 8-statement redemption transaction: the database's
   own ceiling for the three redemption shapes.

Every HTTP scenario runs a short warm-up, then the measured run. Every
redemption takes a code no other request took (pools of single-use codes are
consumed front to back across runs), with a unique order id, customer and
Idempotency-Key: every answer should be a 201, and anything else is counted
in the "errors" column.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import httpx

from benchmarks import profile, report
from benchmarks.bulk_api import BulkResult, ExportResult, measure_bulk, measure_export
from benchmarks.load import LoadError, LoadResult, ensure_wrk, run_pgbench, run_wrk
from benchmarks.scenarios import CEILING_SHAPE, Run, Shape, plan_pools, select
from benchmarks.seed import HOT_INDEX, Pool, Seeded, seed_base, seed_codes
from benchmarks.servers import (
    POOL_SIZE,
    WORKERS,
    HttpServer,
    cpu_seconds,
    postgres_cpu_seconds,
    start_bare,
    start_default_postgres,
    start_promo,
    status_mb,
)
from promo.auth.roles import Role
from promo.db import migrate
from promo.ids import Kind, encode
from promo.settings import Settings
from tests.support.postgres import PostgresServer

SECRET = "benchmark-secret-not-for-production"  # noqa: S105 (a throwaway database)
DATABASE = "bench"
IDLE_SETTLE_SECONDS = 2.0


class Benchmark:
    """The state of one run: options, database, seeded data, results."""

    def __init__(self, options: Any, pg: PostgresServer, seeded: Seeded) -> None:
        self.options = options
        self.pg = pg
        self.seeded = seeded
        self.results: dict[tuple[str, str], LoadResult | str] = {}
        self.memory: dict[str, dict[int, float]] = {}
        self.bulk: BulkResult | str | None = None
        self.export: ExportResult | str | None = None
        self._tags = 0
        self.stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        self.profiles: dict[str, str] = {}

    def tag(self) -> str:
        """A new prefix for order ids, customers and keys: unique in the database."""
        self._tags += 1
        return f"r{self._tags}"

    def position(self, target: str, shape: Shape) -> tuple[int, int, Pool | None]:
        """(first code, how many) this run may take, and the pool they come from."""
        if shape.name.endswith("-hot") or shape.name == "nodb":
            return HOT_INDEX, 1, None
        pool = self.seeded.pools[
            "validate" if shape.name == "validate-many" else f"{target}:{shape.name}"
        ]
        return pool.next, pool.left, pool

    def measure(
        self,
        target: str,
        shape: Shape,
        workers: list[int],
        drive: Callable[[int, int, str, float], LoadResult],
    ) -> None:
        """Warm up, then measure; a failure is recorded in its row, not fatal."""
        try:
            result = None
            profiled = target == "promo" and self.options.profile
            for measured, seconds in ((False, self.options.warmup), (True, self.options.duration)):
                if seconds <= 0:
                    continue
                lo, span, pool = self.position(target, shape)
                if span <= 0:
                    raise LoadError("the pool of single-use codes ran dry")
                recorders = (
                    profile.start(workers, seconds, self.stamp, shape.name)
                    if measured and profiled
                    else None
                )
                if measured:
                    # Fresh statistics for what the warm-up wrote: a table analysed
                    # empty at the seed makes PostgreSQL cache plans that scan it
                    # (autovacuum would analyse it within a minute or so).
                    self.pg.psql("ANALYZE", database=DATABASE)
                counting = measured and target == "promo" and self.options.statements
                if counting:
                    self.pg.psql("SELECT pg_stat_statements_reset()", database=DATABASE)
                app_cpu, db_cpu = cpu_seconds(workers), postgres_cpu_seconds(self.pg)
                result = drive(lo, span, self.tag(), seconds)
                app_cpu, db_cpu = (
                    cpu_seconds(workers) - app_cpu,
                    postgres_cpu_seconds(self.pg) - db_cpu,
                )
                if pool is not None and shape.name.startswith("redeem"):
                    pool.consume(result.used)
                if recorders is not None:
                    self.profiles[shape.name] = profile.finish(recorders)
                if counting:
                    self.profiles[shape.name] = self.profiles.get(shape.name, "") + statement_times(
                        self.pg, result.requests
                    )
            assert result is not None
            if result.requests:
                per_request = 1000 / result.requests
                result = replace(
                    result,
                    app_cpu_ms=app_cpu * per_request if workers else None,
                    db_cpu_ms=db_cpu * per_request,
                )
            earlier = self.results.get((target, shape.name))
            if isinstance(earlier, LoadResult):
                print(f"  ({target} {shape.name}, this round alone: {result.rate:,.0f}/s)")
                result = earlier + result
            self.results[(target, shape.name)] = result
            print(
                f"  {target:<7} {shape.name:<24} {result.rate:>9,.0f}/s  "
                f"p50 {result.p50_ms:6.1f} ms  p99 {result.p99_ms:6.1f} ms  "
                f"errors {result.errors:,} of {result.requests:,}  "
                f"CPU ms/request: app {_ms(result.app_cpu_ms)}, PostgreSQL {_ms(result.db_cpu_ms)}",
                flush=True,
            )
            if shape.name in self.profiles:
                print(self.profiles[shape.name], flush=True)
        except (LoadError, OSError, RuntimeError, ValueError) as exc:
            self.results[(target, shape.name)] = f"failed: {exc}".splitlines()[0][:120]
            print(f"  {target:<7} {shape.name:<24} FAILED: {exc}", flush=True)

    def http(self, server: HttpServer, target: str, shape: Shape) -> None:
        key = self.seeded.keys[Role.CHECKOUT]
        redeem = shape.name.startswith("redeem")
        script = "redeem.lua" if redeem else "validate.lua"

        def drive(lo: int, span: int, tag: str, seconds: float) -> LoadResult:
            args = [key, str(lo), str(span), tag]
            if redeem:
                args.append(str(self.options.threads))
            elif shape.name == "nodb":
                args.append("/nodb/validations")
            return run_wrk(
                server.url,
                script,
                args,
                connections=self.options.connections,
                threads=self.options.threads,
                duration=seconds,
            )

        self.measure(target, shape, server.workers, drive)

    def pgbench(self, shape: Shape) -> None:
        def drive(lo: int, span: int, tag: str, seconds: float) -> LoadResult:
            return run_pgbench(
                self.pg.bindir,
                self.pg.port,
                DATABASE,
                lo=lo,
                span=span,
                tag=tag,
                connections=self.options.connections,
                threads=self.options.threads,
                duration=seconds,
            )

        self.measure("pgbench", shape, [], drive)

    def rss(self, server: HttpServer, field_name: str = "VmRSS") -> dict[int, float]:
        return {pid: status_mb(pid, field_name) for pid in server.workers}


def _ms(value: float | None) -> str:
    return report.DASH if value is None else f"{value:.2f}"


def _postgres_settings(pg: PostgresServer) -> tuple[str, str]:
    version = pg.psql("SHOW server_version").strip()
    values = pg.psql(
        "SELECT concat_ws(', ', 'fsync ' || current_setting('fsync'), "
        "'synchronous_commit ' || current_setting('synchronous_commit'), "
        "'shared_buffers ' || current_setting('shared_buffers'), "
        "'max_connections ' || current_setting('max_connections'))"
    ).strip()
    return f"PostgreSQL {version}", values


STATEMENTS = """
SELECT round((total_plan_time / {n})::numeric, 3), round((total_exec_time / {n})::numeric, 3),
       calls, round((mean_plan_time)::numeric, 3), round((mean_exec_time)::numeric, 3),
       regexp_replace(left(query, 110), '\\s+', ' ', 'g')
FROM pg_stat_statements WHERE calls > 0
ORDER BY total_plan_time + total_exec_time DESC LIMIT 8
"""


def statement_times(pg: PostgresServer, requests: int) -> str:
    """PostgreSQL's own time per request, by statement: planning and execution
    (pg_stat_statements, ``--statements``)."""
    rows = pg.psql(STATEMENTS.format(n=max(requests, 1)), database=DATABASE).splitlines()
    lines = ["  PostgreSQL ms per request: plan, execute; calls; mean plan, execute; statement"]
    lines += [f"    {row}" for row in rows]
    return "\n".join(lines) + "\n"


def run(options: Any) -> int:
    runs, extras = select(options.only)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    command = report.command_line()
    print(f"command: {command}", flush=True)
    if any(target != "pgbench" for target, _ in runs):
        ensure_wrk()
    with ExitStack() as stack:
        pg = start_default_postgres(statements=options.statements)
        stack.callback(pg.stop)
        version, pg_settings = _postgres_settings(pg)
        header = [
            f"command: `{command}`",
            f"machine: {report.machine(version)}",
            f"software: {report.versions()}",
            f"load: wrk, {options.threads} threads, {options.connections} connections; pgbench "
            f"-M prepared -c {options.connections} -j {options.threads}; "
            f"{options.duration:g} s per scenario after a {options.warmup:g} s warm-up; "
            f"load generator, servers and PostgreSQL share the machine",
            f"servers: uvicorn (uvloop, httptools), {WORKERS} workers on 127.0.0.1, no access "
            f"log; promo: `promo serve`, PROMO_DB_POOL_SIZE {POOL_SIZE} (+{POOL_SIZE} overflow) "
            f"per worker, log level warning; bare: asyncpg pool {POOL_SIZE}..{2 * POOL_SIZE} "
            "per worker",
            f"PostgreSQL: default settings ({pg_settings})",
        ]
        for line in header[1:]:
            print(line, flush=True)

        url = pg.create_database(DATABASE)
        if options.statements:
            pg.psql("CREATE EXTENSION pg_stat_statements", database=DATABASE)
        settings = Settings(database_url=url, secret=SECRET)
        migrate.upgrade(settings)
        bench = Benchmark(options, pg, asyncio.run(seed_base(settings)))
        promo = None
        if any(target == "promo" for target, _ in runs) or extras:
            promo = start_promo(url, SECRET, pool_size=POOL_SIZE)
            stack.callback(promo.stop)
            time.sleep(IDLE_SETTLE_SECONDS)
            bench.memory["idle"] = bench.rss(promo)
            if "export" in extras:
                bench.export = _seed_ledger(bench, settings, promo)
        pools = plan_pools(runs, options.rounds * (options.warmup + options.duration))
        started = time.perf_counter()
        asyncio.run(seed_codes(settings, bench.seeded, pools))
        codes = sum(pool.size for pool in pools.values()) + 1
        print(f"seeded {codes:,} codes in {time.perf_counter() - started:.1f} s", flush=True)

        if promo is not None:
            print("promo serve:", flush=True)
            for target, shape in in_rounds(runs, options.rounds, "promo"):
                bench.http(promo, target, shape)
            bench.memory["loaded"] = bench.rss(promo)
            bench.memory["peak"] = bench.rss(promo, "VmHWM")
            if "bulk" in extras:
                bench.bulk = _bulk(bench, promo)
            if "export" in extras and bench.export is None:
                bench.export = _export(bench, promo)
            promo.stop()

        if any(target == "bare" for target, _ in runs):
            bare = start_bare(pg.url(DATABASE, driver="postgresql"))
            stack.callback(bare.stop)
            print("bare app:", flush=True)
            for target, shape in in_rounds(runs, options.rounds, "bare"):
                bench.http(bare, target, shape)
            bare.stop()

        if any(target == "pgbench" for target, _ in runs):
            print("pgbench:", flush=True)
            for target, shape in runs:
                if target == "pgbench":
                    bench.pgbench(shape)

    body = report.table(rows(bench, runs, extras))
    print()
    print(body)
    path = report.write_markdown(stamp, header, body)
    print(f"\nwritten to {path}")
    return 0


def in_rounds(runs: list[Run], rounds: int, target: str) -> list[Run]:
    """``target``'s runs ``rounds`` times, every other round in reverse order, so
    that each scenario runs as often early as late (``--rounds``)."""
    mine = [run for run in runs if run[0] == target]
    return [run for index in range(rounds) for run in (mine[::-1] if index % 2 else mine)]


def _seed_ledger(bench: Benchmark, settings: Settings, promo: HttpServer) -> str | None:
    """The export's data, made by ``benchmarks/ledger_export.py``'s own functions (20
    affiliates' codes through the API, then the entries in SQL) while the ledger is
    still empty; a failure there is reported in the export row."""
    started = time.perf_counter()
    try:
        from benchmarks import ledger_export

        ledger_export.arrange(promo.url, bench.seeded.keys[Role.MARKETER])
        asyncio.run(ledger_export.seed(settings, bench.options.rows))
    except Exception as exc:  # another engineer's module: report, do not stop the run
        print(f"  export seeding FAILED: {exc!r}", flush=True)
        return f"failed: seeding by benchmarks/ledger_export.py: {exc!r}"[:160]
    elapsed = time.perf_counter() - started
    print(f"seeded {bench.options.rows:,} ledger entries in {elapsed:.1f} s", flush=True)
    return None


def _bulk(bench: Benchmark, promo: HttpServer) -> BulkResult | str:
    headers = {"Authorization": f"Bearer {bench.seeded.keys[Role.MARKETER]}"}
    campaign = encode(Kind.CAMPAIGN, bench.seeded.campaigns["bulk"])
    try:
        result = measure_bulk(promo.url, headers, campaign, bench.options.rows, promo.workers)
    except (httpx.HTTPError, RuntimeError, OSError) as exc:
        print(f"  bulk FAILED: {exc}", flush=True)
        return f"failed: {exc}".splitlines()[0][:120]
    print(f"  bulk: {result.rows:,} codes in {result.seconds:.2f} s", flush=True)
    return result


def _export(bench: Benchmark, promo: HttpServer) -> ExportResult | str:
    headers = {"Authorization": f"Bearer {bench.seeded.keys[Role.ACCOUNTANT]}"}
    try:
        result = measure_export(promo.url, headers, promo.workers)
    except (RuntimeError, OSError, ValueError) as exc:
        print(f"  export FAILED: {exc}", flush=True)
        return f"failed: {exc}".splitlines()[0][:120]
    print(f"  export: {result.rows:,} rows in {result.seconds:.2f} s", flush=True)
    return result


def rows(bench: Benchmark, runs: list[Run], extras: set[str]) -> list[report.Row]:
    """The table: every run with its ratios to the ceilings, then bulk, export, memory."""
    found = bench.results

    def rate(target: str, shape: str) -> float | None:
        result = found.get((target, shape))
        return result.rate if isinstance(result, LoadResult) else None

    table: list[report.Row] = []
    for target, shape in runs:
        result = found.get((target, shape.name))
        if not isinstance(result, LoadResult):
            table.append(report.Row(shape.label, target, str(result)))
            continue
        unit = "TPS" if target == "pgbench" else "req/s"
        ceiling = CEILING_SHAPE.get(shape.name, shape.name)
        row = report.Row(
            scenario=shape.label,
            target=target,
            throughput=f"{result.rate:,.0f} {unit}",
            p50=f"{result.p50_ms:.1f}",
            p99=f"{result.p99_ms:.1f}",
            errors=f"{result.errors:,}",
            app_cpu=_ms(result.app_cpu_ms),
            db_cpu=_ms(result.db_cpu_ms),
            notes=f"{result.requests:,} requests",
        )
        if target == "promo":
            row.vs_bare = report.ratio(result.rate, rate("bare", ceiling))
        if target in ("promo", "bare"):
            row.vs_pgbench = report.ratio(result.rate, rate("pgbench", ceiling))
        if ceiling != shape.name:
            row.notes += f"; ratios to the '{ceiling}' ceilings"
        if target == "promo" and shape.name == "redeem-plan":
            inline = rate("promo", "redeem-affiliate")
            if inline:
                row.notes += f"; {result.rate / inline:.2f} of the inline commission's rate"
        if target == "promo" and shape.name == "redeem-campaign":
            unlimited = rate("promo", "redeem-campaign-nolimit")
            if unlimited:
                row.notes += f"; {result.rate / unlimited:.2f} of the no-limit campaign's rate"
        table.append(row)

    if isinstance(bench.bulk, BulkResult):
        result_b = bench.bulk
        table.append(
            report.Row(
                f"bulk: {result_b.rows:,} codes, POST code-batches to done",
                "promo",
                f"{result_b.rate:,.0f} rows/s",
                notes=f"{result_b.seconds:.2f} s; worker peak RSS "
                f"+{result_b.peak_growth_mb:.1f} MB",
            )
        )
    elif bench.bulk is not None:
        table.append(report.Row("bulk", "promo", bench.bulk))
    if isinstance(bench.export, ExportResult):
        result_e = bench.export
        table.append(
            report.Row(
                f"export: {result_e.rows:,} ledger rows, GET /v1/ledger/export (csv)",
                "promo",
                f"{result_e.rate:,.0f} rows/s",
                notes=f"{result_e.seconds:.2f} s; serving worker peak RSS "
                f"+{result_e.peak_growth_mb:.1f} MB",
            )
        )
    elif bench.export is not None:
        table.append(report.Row("export", "promo", bench.export))
    if bench.memory:

        def mbs(values: dict[int, float]) -> str:
            return " / ".join(f"{mb:.0f}" for mb in values.values())

        table.append(
            report.Row(
                "RSS per worker (MB)",
                "promo",
                f"idle {mbs(bench.memory['idle'])}",
                notes=f"after the checkout runs {mbs(bench.memory['loaded'])}, "
                f"peak {mbs(bench.memory['peak'])}",
            )
        )
    return table
