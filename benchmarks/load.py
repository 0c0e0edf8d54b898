"""Driving load: wrk with the Lua scripts of ``benchmarks/lua``, and pgbench.

Both are closed loops with a fixed number of connections (clients), like a
checkout's connection pool. wrk's numbers come from the one ``WRK_JSON``
line its ``done()`` prints (``lua/summary.lua``); pgbench's latencies from
its per-transaction log (``-l``).
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
LUA_DIR = HERE / "lua"
PGBENCH_SCRIPT = HERE / "pgbench" / "redeem.sql"
TIMEOUT_MARGIN_SECONDS = 120


@dataclass(frozen=True)
class LoadResult:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int  # non-2xx answers, socket errors and timeouts; failed transactions
    used: int  # how far into the code pool the run may have gone
    # CPU per request (ms) of the server's workers and of PostgreSQL, set by the
    # harness: less sensitive than rates to other work on a shared machine.
    app_cpu_ms: float | None = None
    db_cpu_ms: float | None = None

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def __add__(self, other: LoadResult) -> LoadResult:
        """Two runs of one scenario as one (``--rounds``): requests, seconds, errors
        and CPU summed (so the rate is over both), percentiles the worse of the two."""

        def cpu(mine: float | None, theirs: float | None) -> float | None:
            if mine is None or theirs is None:
                return None
            total = self.requests + other.requests
            return (mine * self.requests + theirs * other.requests) / total if total else None

        return LoadResult(
            requests=self.requests + other.requests,
            seconds=self.seconds + other.seconds,
            p50_ms=max(self.p50_ms, other.p50_ms),
            p99_ms=max(self.p99_ms, other.p99_ms),
            errors=self.errors + other.errors,
            used=self.used + other.used,
            app_cpu_ms=cpu(self.app_cpu_ms, other.app_cpu_ms),
            db_cpu_ms=cpu(self.db_cpu_ms, other.db_cpu_ms),
        )


class LoadError(RuntimeError):
    """The load generator failed; the message holds its output."""


def ensure_wrk() -> str:
    """wrk's path; installs the Debian package when it is missing."""
    found = shutil.which("wrk")
    if found:
        return found
    print("wrk not found: apt-get install -y wrk", flush=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=False)
    found = shutil.which("wrk")
    if not found:
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True)
        found = shutil.which("wrk")
    if not found:
        raise LoadError("wrk is not installed and could not be installed")
    return found


def run_wrk(
    url: str,
    script: str,
    args: list[str],
    *,
    connections: int,
    threads: int,
    duration: float,
) -> LoadResult:
    """``wrk -s lua/<script>`` against ``url``; ``args`` go to the script's ``init``."""
    command = [
        ensure_wrk(), "-t", str(threads), "-c", str(connections), "-d", f"{duration:g}s",
        "--timeout", "10s", "-s", script, url, "--", *args,
    ]  # fmt: skip
    completed = subprocess.run(
        command,
        cwd=LUA_DIR,  # the scripts `require "summary"` from here
        capture_output=True,
        text=True,
        timeout=duration + TIMEOUT_MARGIN_SECONDS,
        check=False,
    )
    for line in completed.stdout.splitlines():
        if line.startswith("WRK_JSON "):
            data = json.loads(line.removeprefix("WRK_JSON "))
            break
    else:
        raise LoadError(f"wrk gave no summary:\n{completed.stdout}\n{completed.stderr}")
    errors = sum(
        data[name]
        for name in ("connect_errors", "read_errors", "write_errors", "status_errors", "timeouts")
    )
    return LoadResult(
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        p50_ms=data["p50_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        errors=errors,
        used=data["threads"] * (data["max_counter"] + 1),
    )


def run_pgbench(
    bindir: Path,
    port: int,
    database: str,
    *,
    lo: int,
    span: int,
    tag: str,
    connections: int,
    threads: int,
    duration: float,
) -> LoadResult:
    """``pgbench/redeem.sql`` with ``connections`` clients, prepared statements."""
    workdir = Path(tempfile.mkdtemp(prefix="promo-bench-pgbench-"))
    try:
        command = [
            str(bindir / "pgbench"), "-n", "-M", "prepared",
            "-c", str(connections), "-j", str(threads), "-T", str(max(1, round(duration))),
            "-l", "-f", str(PGBENCH_SCRIPT),
            "-D", f"lo={lo}", "-D", f"span={span}", "-D", f"nclients={connections}",
            "-D", "n=0", "-D", f"run={tag}",
            "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", database,
        ]  # fmt: skip
        completed = subprocess.run(
            command,
            cwd=workdir,  # per-transaction logs land here
            capture_output=True,
            text=True,
            timeout=duration + TIMEOUT_MARGIN_SECONDS,
            check=False,
        )
        output = completed.stdout + completed.stderr
        if completed.returncode != 0:
            raise LoadError(f"pgbench failed ({completed.returncode}):\n{output[-3000:]}")
        latencies: list[int] = []
        per_client: dict[str, int] = {}
        for log in workdir.glob("pgbench_log.*"):
            for line in log.read_text().splitlines():
                # client_id transaction_no time_us script_no epoch epoch_us
                client, _, latency, *_ = line.split()
                latencies.append(int(latency))
                per_client[client] = per_client.get(client, 0) + 1
        failed = _field(output, "number of failed transactions:")
        tps = float(_field(output, "tps =").split()[0])
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if not latencies:
        raise LoadError(f"pgbench processed no transaction:\n{output[-3000:]}")
    quantiles = statistics.quantiles(latencies, n=100, method="inclusive")
    return LoadResult(
        requests=len(latencies),
        seconds=len(latencies) / tps,
        p50_ms=quantiles[49] / 1000,
        p99_ms=quantiles[98] / 1000,
        errors=int(failed.split()[0]),
        used=connections * (max(per_client.values()) + 1),
    )


def _field(output: str, label: str) -> str:
    for line in output.splitlines():
        if line.startswith(label):
            return line.removeprefix(label).strip()
    raise LoadError(f"pgbench output has no {label!r}:\n{output[-3000:]}")
