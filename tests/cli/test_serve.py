"""The README's first command, end to end: `promo serve --demo` as a real process.

The server runs in a temporary working directory on the embedded SQLite
default (it creates ./promo.db there), on a free port, and is always stopped.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support.factories import bearer

STARTUP_TIMEOUT_S = 60.0  # generous: a loaded CI machine, four argon2 hashes for --demo
ADMIN_KEY_LINE = re.compile(r"^\s+admin\s+(pk_\S+)$", re.MULTILINE)


@dataclass
class Server:
    url: str
    workdir: Path
    stdout: str


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _promo_command() -> list[str]:
    script = Path(sys.executable).with_name("promo")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "promo"]


def _wait_until_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"promo serve exited with {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/health", timeout=1, trust_env=False).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    pytest.fail(
        f"promo serve did not answer /health within {STARTUP_TIMEOUT_S} s:\n{log.read_text()}"
    )


@contextmanager
def promo_serve(workdir: Path, *args: str) -> Iterator[Server]:
    """Run `promo serve --demo ARGS` in ``workdir`` until the block ends."""
    port = _free_port()
    environ = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("PROMO_") and k != "PROMETHEUS_MULTIPROC_DIR"
    }
    out, err = workdir / "stdout.txt", workdir / "stderr.txt"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        process = subprocess.Popen(
            [*_promo_command(), "serve", "--demo", "--port", str(port), *args],
            cwd=workdir,
            env=environ,
            stdout=stdout,
            stderr=stderr,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_until_healthy(url, process, err)
        yield Server(url=url, workdir=workdir, stdout=out.read_text())
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with promo_serve(tmp_path_factory.mktemp("serve")) as running:
        yield running


@pytest.fixture(scope="module")
def http(server: Server) -> Iterator[httpx.Client]:
    # trust_env=False: a proxy configured in the environment must not see these.
    with httpx.Client(base_url=server.url, trust_env=False) as client:
        yield client


@pytest.fixture(scope="module")
def admin_key(server: Server) -> str:
    found = ADMIN_KEY_LINE.search(server.stdout)
    assert found, f"no admin key in the demo output:\n{server.stdout}"
    return found.group(1)


def test_serve_creates_its_sqlite_database_in_the_working_directory(server: Server) -> None:
    assert (server.workdir / "promo.db").is_file()


def test_demo_admin_key_from_stdout_lists_keys(http: httpx.Client, admin_key: str) -> None:
    response = http.get("/v1/keys", headers=bearer(admin_key))

    assert response.status_code == 200, response.text
    assert {item["role"] for item in response.json()["items"]} >= {"admin", "checkout"}


def test_key_listing_without_a_key_is_401(http: httpx.Client) -> None:
    response = http.get("/v1/keys")

    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")


def test_readiness_probe_reports_the_database_reachable(http: httpx.Client) -> None:
    response = http.get("/health/ready")

    assert response.status_code == 200
    assert response.json()["database"] == "ok"


def test_metrics_count_requests_per_route(http: httpx.Client, admin_key: str) -> None:
    for _ in range(3):
        http.get("/v1/keys", headers=bearer(admin_key))

    response = http.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    counted = requests_total(response.text, path="/v1/keys", status="200")
    assert counted >= 3, response.text


def test_response_echoes_a_sane_request_id(http: httpx.Client) -> None:
    response = http.get("/health", headers={"X-Request-ID": "checkout-42.a:b"})

    assert response.headers["x-request-id"] == "checkout-42.a:b"


def test_response_replaces_an_insane_request_id_with_its_own(http: httpx.Client) -> None:
    sent = "no spaces or <tags> " + "x" * 200
    response = http.get("/health", headers={"X-Request-ID": sent})
    fresh = http.get("/health")

    assert response.headers["x-request-id"] not in ("", sent)
    assert fresh.headers["x-request-id"] not in ("", response.headers["x-request-id"])


def requests_total(metrics: str, *, path: str, status: str) -> float:
    """Sum of the promo_requests_total samples of one route and status."""
    total = 0.0
    for line in metrics.splitlines():
        if (
            line.startswith("promo_requests_total{")
            and f'path="{path}"' in line
            and f'status_code="{status}"' in line
        ):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_metrics_add_up_over_several_worker_processes(tmp_path: Path) -> None:
    sent = 20
    with (
        promo_serve(tmp_path, "--workers", "2") as server,
        httpx.Client(base_url=server.url, trust_env=False) as http,
    ):
        for _ in range(sent):
            # A new connection each time, so that both workers get some.
            http.get("/health/ready", headers={"Connection": "close"})
        response = http.get("/metrics")

    assert response.status_code == 200
    counted = requests_total(response.text, path="/health/ready", status="200")
    assert counted >= sent, (
        f"/metrics counts {counted} of {sent} requests: it sees one worker's values only "
        "(prometheus_client multiprocess mode, PROMETHEUS_MULTIPROC_DIR)"
    )
