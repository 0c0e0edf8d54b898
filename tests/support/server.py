"""A real `promo serve` process (several workers) for tests that need real concurrency."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from promo.pii import DEV_PII_KEY

READY_TIMEOUT_SECONDS = 60


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ServerProcess:
    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def start_server(
    database_url: str,
    *,
    workers: int = 2,
    secret: str,
    extra_env: dict[str, str] | None = None,
    args: tuple[str, ...] = (),
) -> ServerProcess:
    """Start `promo serve ARGS` on a free port and wait until it answers /health/ready."""
    port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix="promo-server-"))
    log = workdir / "server.log"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PROMO_")},
        "PROMO_DATABASE_URL": database_url,
        "PROMO_SECRET": secret,
        # The key tests compute expected refs with (tests.support.pii).
        "PROMO_PII_KEY": DEV_PII_KEY,
        "PROMO_LOG_LEVEL": "warning",
        **(extra_env or {}),
    }
    command = [
        sys.executable, "-m", "promo", "serve",
        "--port", str(port), "--workers", str(workers), *args,
    ]  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=workdir, env=env, stdout=out, stderr=out)
    server = ServerProcess(process=process, url=f"http://127.0.0.1:{port}", log=log)
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"promo serve exited early:\n{server.log_tail()}")
        try:
            if httpx.get(f"{server.url}/health/ready", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"promo serve did not become ready:\n{server.log_tail()}")


def start_worker(
    database_url: str, *, secret: str, log: Path, extra_env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start `promo worker` (background jobs), writing to ``log``; not waited on."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PROMO_")},
        "PROMO_DATABASE_URL": database_url,
        "PROMO_SECRET": secret,
        "PROMO_PII_KEY": DEV_PII_KEY,
        "PROMO_LOG_LEVEL": "warning",
        **(extra_env or {}),
    }
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "promo", "worker"], env=env, stdout=out, stderr=out
        )
