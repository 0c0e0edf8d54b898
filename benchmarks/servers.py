"""The processes a benchmark run starts: PostgreSQL, `promo serve`, the bare app.

PostgreSQL runs with its default settings (fsync and synchronous_commit on),
unlike the test suite's throwaway server (``tests/support/postgres.py``,
fsync off), because the ceilings of issue 9 are measured that way. Only the
port, the listen address and the socket directory are set.

Both HTTP servers are uvicorn with 2 worker processes on 127.0.0.1, started
the same way (`promo serve` calls ``uvicorn.run`` with the same options the
bare app gets on uvicorn's command line). Memory is read from
``/proc/<pid>/status`` of the worker processes, the children of the server
process.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from promo.pii import DEV_PII_KEY
from tests.support.postgres import PostgresServer, start_postgres
from tests.support.server import free_port

REPO = Path(__file__).resolve().parent.parent
WORKERS = 2
# Above the requests one worker can have in flight (16 wrk connections), so that no
# pool opens and closes connections during a run (promo discards overflow ones).
POOL_SIZE = 20
READY_TIMEOUT_SECONDS = 60


# ``--statements``: PostgreSQL's own account of its time per statement.
STATEMENT_STATISTICS = (
    "shared_preload_libraries=pg_stat_statements",
    "pg_stat_statements.track_planning=on",
)


def start_default_postgres(*, statements: bool = False) -> PostgresServer:
    """A throwaway server with PostgreSQL's default (durable) settings; ``stop()`` it.
    ``statements`` loads pg_stat_statements (planning tracked too)."""
    return start_postgres(durable=True, settings=STATEMENT_STATISTICS if statements else ())


# -- HTTP servers ---------------------------------------------------------------------


@dataclass
class HttpServer:
    """A running uvicorn parent process with its worker processes."""

    name: str
    process: subprocess.Popen[bytes]
    url: str
    log: Path
    workers: list[int] = field(default_factory=list)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        # Workers are ours too: make sure none outlives its parent.
        for pid in self.workers:
            if _alive(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        shutil.rmtree(self.log.parent, ignore_errors=True)

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def start_promo(
    database_url: str,
    secret: str,
    *,
    pool_size: int = POOL_SIZE,
    env: dict[str, str] | None = None,
) -> HttpServer:
    """`promo serve --workers 2`, as ``tests/support/server.py`` starts it (log level
    warning), but owned here so that an interrupted start is stopped too; ``env``
    adds to its environment."""
    extra = env or {}
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PROMO_")},
        "PROMO_DATABASE_URL": database_url,
        "PROMO_SECRET": secret,
        # A throwaway database: the settings' development key does.
        "PROMO_PII_KEY": DEV_PII_KEY,
        "PROMO_LOG_LEVEL": "warning",
        "PROMO_DB_POOL_SIZE": str(pool_size),
        **extra,
    }
    command = [sys.executable, "-m", "promo", "serve", "--workers", str(WORKERS)]
    return _start("promo", command, env, "/health/ready")


def start_bare(dsn: str) -> HttpServer:
    """``benchmarks/bare_app.py`` under uvicorn with the options `promo serve` uses."""
    env = {
        **os.environ,
        "BENCH_DATABASE_URL": dsn,
        "BENCH_POOL_SIZE": str(POOL_SIZE),
        "PYTHONPATH": str(REPO),
    }
    command = [
        sys.executable, "-m", "uvicorn", "benchmarks.bare_app:create_app", "--factory",
        "--host", "127.0.0.1", "--workers", str(WORKERS),
        "--log-level", "warning", "--no-access-log", "--no-proxy-headers", "--no-server-header",
    ]  # fmt: skip
    return _start("bare", command, env, "/health")


def _start(name: str, command: list[str], env: dict[str, str], ready: str) -> HttpServer:
    port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix=f"promo-bench-{name}-"))
    log = workdir / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*command, "--port", str(port)], cwd=workdir, env=env, stdout=out, stderr=out
        )
    server = HttpServer(name, process, f"http://127.0.0.1:{port}", log)
    try:
        _wait_ready(server, ready)
        server.workers = _wait_for_workers(server)
    except BaseException:
        server.workers = worker_pids(process.pid)
        server.stop()
        raise
    return server


def _wait_ready(server: HttpServer, path: str) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"{server.name} exited early:\n{server.log_tail()}")
        try:
            if httpx.get(f"{server.url}{path}", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{server.name} did not become ready:\n{server.log_tail()}")


def _wait_for_workers(server: HttpServer) -> list[int]:
    """The worker pids; both answer only once each has started (readiness hit one)."""
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        workers = worker_pids(server.process.pid)
        if len(workers) >= WORKERS:
            return workers
        time.sleep(0.1)
    raise RuntimeError(f"{server.name}: expected {WORKERS} worker processes")


# -- memory ---------------------------------------------------------------------------


def _alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists()


def _children(parent: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name (2nd field) may hold spaces: split after its ')'.
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[1]) == parent:
            found.append(int(entry.name))
    return sorted(found)


def worker_pids(parent: int) -> list[int]:
    """uvicorn's workers: spawned children (not multiprocessing's resource tracker)."""
    workers = []
    for pid in _children(parent):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"spawn_main" in cmdline:
            workers.append(pid)
    return workers


def status_mb(pid: int, field_name: str) -> float:
    """A ``/proc/<pid>/status`` memory field (VmRSS, VmHWM) in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field_name}:"):
            return int(line.split()[1]) / 1024
    raise KeyError(field_name)


_TICKS = os.sysconf("SC_CLK_TCK")


def _stat_times(pid: int, children: bool = False) -> float:
    """CPU seconds of a process (user + system), and of its reaped children."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    # utime, stime, cutime, cstime are fields 14-17 of stat (11-14 after the name).
    ticks = int(fields[11]) + int(fields[12])
    if children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / _TICKS


def cpu_seconds(pids: list[int]) -> float:
    """CPU seconds used so far by ``pids`` (the workers of a server)."""
    total = 0.0
    for pid in pids:
        try:
            total += _stat_times(pid)
        except (OSError, ValueError):
            pass
    return total


def postgres_cpu_seconds(server: PostgresServer) -> float:
    """CPU seconds used so far by PostgreSQL: the postmaster, its live processes,
    and (through the postmaster's reaped-children times) the backends that ended."""
    postmaster = int((server.datadir / "postmaster.pid").read_text().split()[0])
    return _stat_times(postmaster, children=True) + cpu_seconds(_children(postmaster))


def reset_peak(pid: int) -> bool:
    """Reset VmHWM to the current RSS (Linux ``clear_refs`` 5); False when not allowed."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True
