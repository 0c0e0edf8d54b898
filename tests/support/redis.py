"""A throwaway redis-server for the test suite (the shared throttle store).

Listens on a free port of 127.0.0.1, keeps nothing on disk, runs in the
foreground as a child of the test process, and is stopped by ``stop()``
(call it in a finally).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tests.support.server import free_port

CANDIDATES = ("/usr/bin/redis-server", "/usr/sbin/redis-server", "/usr/local/bin/redis-server")
READY_TIMEOUT_SECONDS = 10


class RedisUnavailable(RuntimeError):
    """No redis-server binary on this machine."""


def find_redis_server() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    for candidate in CANDIDATES:
        if Path(candidate).is_file():
            return candidate
    raise RedisUnavailable(f"redis-server not found on PATH nor in {', '.join(CANDIDATES)}")


@dataclass
class RedisServer:
    process: subprocess.Popen[bytes]
    port: int
    workdir: Path

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def log(self) -> Path:
        return self.workdir / "redis.log"

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        try:
            if self.process.poll() is None:
                self.process.terminate()
                try:
                    self.process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait(timeout=5)
        finally:
            shutil.rmtree(self.workdir, ignore_errors=True)


def start_redis() -> RedisServer:
    """Start a new redis-server and wait until it answers PING."""
    binary = find_redis_server()
    workdir = Path(tempfile.mkdtemp(prefix="promo-redis-"))
    port = free_port()
    command = [
        binary,
        "--port", str(port),
        "--bind", "127.0.0.1",
        "--save", "",
        "--appendonly", "no",
        "--daemonize", "no",
        "--dir", str(workdir),
    ]  # fmt: skip
    with (workdir / "redis.log").open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=out)
    server = RedisServer(process=process, port=port, workdir=workdir)
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log = server.log.read_text(errors="replace")
            server.stop()
            raise RuntimeError(f"redis-server exited with {process.returncode}:\n{log}")
        if server.ping():
            return server
        time.sleep(0.05)
    log = server.log.read_text(errors="replace")
    server.stop()
    raise RuntimeError(f"redis-server did not answer PING:\n{log}")
