"""How fast GET /v1/ledger/export streams, and whether the server's memory stays flat.

Starts a throwaway PostgreSQL (``tests/support/postgres.py``), migrates it,
starts a real ``promo serve`` with one worker (``tests/support/server.py``),
creates an EUR and a JPY campaign, 20 affiliates and their codes through the
API, then seeds the ledger in SQL (``INSERT ... SELECT generate_series``):
half the rows are ``redemption`` entries of real redemptions, the other half
refunds or reversals of them, one in ten with a note that CSV must quote.
It then downloads the CSV export with an accountant key (made with
``promo.auth.service.create_key`` on the benchmark's own engine), counts the
records while they arrive (CRLF-terminated; the seeded notes hold no CRLF),
and samples the serving process's VmRSS (``/proc/<pid>/status``) every 50 ms.
The serving process is the child of ``promo serve`` when uvicorn forks one;
with a single worker uvicorn serves in the ``promo serve`` process itself.

Reproduce (from the repository root; about a minute for 1,000,000 rows):

    .venv/bin/python -m benchmarks.ledger_export                  # 1,000,000 rows, CSV
    .venv/bin/python -m benchmarks.ledger_export --rows 100000 --format jsonl

The throwaway server runs with ``fsync=off``: figures are for CPU and the
database's own work, not for the disk.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import text

from promo.auth.roles import Role
from promo.auth.service import create_key
from promo.clock import utc_now
from promo.db import migrate
from promo.db.engine import create_engine, create_sessionmaker
from promo.settings import Settings
from tests.support.postgres import start_postgres
from tests.support.server import ServerProcess, start_server

SECRET = "benchmark-secret-0123456789"  # noqa: S105 (a throwaway server)
AFFILIATES = 20
SAMPLE_SECONDS = 0.05

SEED_REDEMPTIONS = """
WITH numbered AS (
    SELECT row_number() OVER (ORDER BY c.id) - 1 AS i, c.id, c.campaign_id, c.affiliate_id,
           k.currency
    FROM codes c JOIN campaigns k ON k.id = c.campaign_id
)
INSERT INTO redemptions (
    code_id, campaign_id, affiliate_id, customer_key, customer_id, order_id, currency,
    order_amount, discount_total, discount_shipping, discount_lines, commission,
    commission_fixed, refunded_amount, budget_returned, created_at, rolled_back_at
)
SELECT c.id, c.campaign_id, c.affiliate_id, 'id:cus_' || n, 'cus_' || n, 'bench_' || n,
       c.currency, 8000 + n % 997, 2000 + n % 13, 0, '[]', 800 + n % 97, 0, 0, 0,
       timestamptz '2026-01-01 00:00:00+00' + n * interval '1 second', NULL
FROM generate_series(1, :redemptions) AS n
JOIN numbered c ON c.i = n % (SELECT count(*) FROM numbered)
"""

SEED_ENTRIES = """
INSERT INTO ledger_entries (
    created_at, kind, redemption_id, order_id, code, campaign_id, affiliate_id, currency,
    order_amount, discount, commission, available_at, payout_id, note
)
SELECT r.created_at, 'redemption', r.id, r.order_id, c.code, r.campaign_id, r.affiliate_id,
       r.currency, r.order_amount, r.discount_total, r.commission,
       r.created_at + interval '30 days', NULL, NULL
FROM redemptions r JOIN codes c ON c.id = r.code_id
ORDER BY r.id
"""

SEED_REFUNDS = """
INSERT INTO ledger_entries (
    created_at, kind, redemption_id, order_id, code, campaign_id, affiliate_id, currency,
    order_amount, discount, commission, available_at, payout_id, note
)
SELECT r.created_at + interval '1 day',
       CASE WHEN r.id % 3 = 0 THEN 'reversal' ELSE 'refund' END,
       r.id, r.order_id, c.code, r.campaign_id, r.affiliate_id, r.currency,
       -(r.order_amount / 4), -(r.discount_total / 4), -(r.commission / 4),
       r.created_at + interval '1 day', NULL,
       CASE WHEN r.id % 10 = 0 THEN 'customer said: "too small, sorry"' END
FROM redemptions r JOIN codes c ON c.id = r.code_id
ORDER BY r.id
LIMIT :refunds
"""


@dataclass
class Result:
    rows: int
    bytes: int
    seconds: float
    first_byte: float
    rss_before: int
    rss_peak: int
    samples: int
    cpu_seconds: float


async def make_keys(settings: Settings) -> dict[Role, str]:
    engine = create_engine(settings)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            keys = {}
            for role in (Role.MARKETER, Role.ACCOUNTANT):
                _, keys[role] = await create_key(
                    session, role=role, affiliate_id=None, name=f"benchmark {role}", now=utc_now()
                )
            return keys
    finally:
        await engine.dispose()


def arrange(url: str, marketer: str) -> None:
    """Campaigns, affiliates and one code per affiliate and campaign, through the API."""
    headers = {"Authorization": f"Bearer {marketer}"}
    with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
        campaigns = []
        for currency in ("EUR", "JPY"):
            body = {
                "name": f"Benchmark {currency}",
                "status": "active",
                "currency": currency,
                "starts_at": "2026-01-01T00:00:00Z",
                "discount": {"type": "percentage", "percent_off": 20},
                "commission": {"percent": 10},
            }
            response = client.post("/v1/campaigns", json=body)
            response.raise_for_status()
            campaigns.append(response.json())
        for n in range(AFFILIATES):
            response = client.post(
                "/v1/affiliates", json={"name": f"Partner {n}", "email": f"p{n}@bench.test"}
            )
            response.raise_for_status()
            affiliate = response.json()
            for campaign in campaigns:
                code = f"P{n}{campaign['currency']}"
                response = client.post(
                    f"/v1/campaigns/{campaign['id']}/codes",
                    json={"code": code, "affiliate_id": affiliate["id"]},
                )
                response.raise_for_status()


async def seed(settings: Settings, rows: int) -> None:
    redemptions = (rows + 1) // 2
    engine = create_engine(settings)
    try:
        async with engine.begin() as connection:
            await connection.execute(text(SEED_REDEMPTIONS), {"redemptions": redemptions})
            await connection.execute(text(SEED_ENTRIES))
            await connection.execute(text(SEED_REFUNDS), {"refunds": rows - redemptions})
        async with engine.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.exec_driver_sql("VACUUM ANALYZE")
            count = await connection.scalar(text("SELECT count(*) FROM ledger_entries"))
        assert count == rows, (count, rows)
    finally:
        await engine.dispose()


def children(pid: int) -> list[int]:
    """Direct children of ``pid``: /proc/<pid>/task/*/children, else a scan of /proc."""
    found: list[int] = []
    tasks = Path(f"/proc/{pid}/task")
    try:
        for task in tasks.iterdir():
            listed = (task / "children").read_text().split()
            found.extend(int(child) for child in listed)
    except OSError:
        found = []
    if found:
        return found
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The fields after the command (in parentheses, which may hold spaces).
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


def serving_process(server: ServerProcess) -> tuple[int, str]:
    """The pid that serves requests, and how it was found."""
    for child in children(server.process.pid):
        try:
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if b"resource_tracker" not in cmdline:
            return child, "uvicorn worker (child of promo serve)"
    return server.process.pid, "promo serve itself (one worker: uvicorn serves in-process)"


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


class Sampler(threading.Thread):
    """The peak VmRSS of a process, sampled every ``SAMPLE_SECONDS``."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = rss_kib(pid)
        self.samples = 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            self.peak = max(self.peak, rss_kib(self.pid))
            self.samples += 1
            self.done.wait(SAMPLE_SECONDS)

    def stop(self) -> None:
        self.done.set()
        self.join()
        self.peak = max(self.peak, rss_kib(self.pid))


def download(url: str, accountant: str, fmt: str, pid: int) -> Result:
    headers = {"Authorization": f"Bearer {accountant}"}
    record_end = b"\r\n" if fmt == "csv" else b"\n"
    with httpx.Client(base_url=url, headers=headers, timeout=600) as client:
        # Warm up the code path (imports, caches, pool) on an export of a few rows.
        warm = client.get("/v1/ledger/export", params={"format": fmt, "kind": "payout"})
        warm.raise_for_status()
        time.sleep(0.5)
        before = rss_kib(pid)
        sampler = Sampler(pid)
        sampler.start()
        records = size = 0
        first_byte = 0.0
        tail = b""
        cpu_before = cpu_seconds(pid)
        started = time.perf_counter()
        with client.stream("GET", "/v1/ledger/export", params={"format": fmt}) as response:
            response.raise_for_status()
            for chunk in response.iter_raw(1 << 16):
                if not first_byte:
                    first_byte = time.perf_counter() - started
                size += len(chunk)
                # A CRLF may straddle two chunks: count on the last byte plus the chunk.
                records += (tail + chunk).count(record_end)
                tail = chunk[-1:] if record_end == b"\r\n" else b""
        seconds = time.perf_counter() - started
        sampler.stop()
        cpu = cpu_seconds(pid) - cpu_before
    header_rows = 1 if fmt == "csv" else 0
    return Result(
        rows=records - header_rows,
        bytes=size,
        seconds=seconds,
        first_byte=first_byte,
        rss_before=before,
        rss_peak=sampler.peak,
        samples=sampler.samples,
        cpu_seconds=cpu,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="ledger entries to seed")
    parser.add_argument("--format", choices=("csv", "jsonl"), default="csv")
    args = parser.parse_args()

    postgres = start_postgres()
    server: ServerProcess | None = None
    try:
        settings = Settings(database_url=postgres.create_database("bench"), secret=SECRET)
        migrate.upgrade(settings)
        keys = asyncio.run(make_keys(settings))
        server = start_server(settings.database_url, workers=1, secret=SECRET)
        arrange(server.url, keys[Role.MARKETER])
        started = time.perf_counter()
        asyncio.run(seed(settings, args.rows))
        seeding = time.perf_counter() - started
        pid, found_as = serving_process(server)
        result = download(server.url, keys[Role.ACCOUNTANT], args.format, pid)
    finally:
        if server is not None:
            server.stop()
        postgres.stop()

    assert result.rows == args.rows, (result.rows, args.rows)
    mib = 1024
    print(f"seeded {args.rows:,} ledger entries in {seeding:.1f} s")
    print(f"serving pid {pid}: {found_as}; {result.samples} RSS samples every 50 ms")
    print()
    print(
        "| format | rows | MB | seconds | first byte s | rows/s | server CPU s "
        "| rows per CPU s | RSS before MiB | RSS peak MiB | peak growth MiB |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    print(
        f"| {args.format} | {result.rows:,} | {result.bytes / 1e6:,.1f} | {result.seconds:.2f} "
        f"| {result.first_byte:.3f} | {result.rows / result.seconds:,.0f} "
        f"| {result.cpu_seconds:.1f} | {result.rows / max(result.cpu_seconds, 0.01):,.0f} "
        f"| {result.rss_before / mib:.1f} | {result.rss_peak / mib:.1f} "
        f"| {(result.rss_peak - result.rss_before) / mib:.1f} |"
    )
    print(f"load average at the end: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
