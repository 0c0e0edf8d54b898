"""A throwaway PostgreSQL server for the test suite (and the benchmarks).

``initdb`` into a fresh temporary directory, listen on a free port of
127.0.0.1 with the socket inside that directory, and remove everything on
stop. PostgreSQL refuses to run as root, so when we are root the server runs
as an unprivileged user (``postgres`` if present, else one we create), via
``runuser``.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

SEARCH_DIRS = "/usr/lib/postgresql/*/bin"
FALLBACK_USER = "promo-pg"


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL binaries on this machine."""


def find_bindir() -> Path:
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).resolve().parent
    candidates = sorted(
        glob.glob(SEARCH_DIRS),
        key=lambda p: int(Path(p).parent.name) if Path(p).parent.name.isdigit() else 0,
    )
    for candidate in reversed(candidates):
        if (Path(candidate) / "initdb").exists():
            return Path(candidate)
    raise PostgresUnavailable(f"initdb not found on PATH nor in {SEARCH_DIRS}")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _server_user() -> str | None:
    """The user to run the server as, or None to run as ourselves (not root)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", FALLBACK_USER):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", FALLBACK_USER],
        check=True,
    )
    return FALLBACK_USER


@dataclass
class PostgresServer:
    bindir: Path
    port: int
    datadir: Path
    user: str | None
    durable: bool = False
    superuser: str = "postgres"
    # More server settings (``-c name=value``), e.g. a benchmark's statistics.
    settings: tuple[str, ...] = ()
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log = self.datadir.parent / "postgres.log"

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        command = list(args)
        if self.user is not None:
            command = ["runuser", "-u", self.user, "--", *command]
        return subprocess.run(command, check=True, capture_output=True, text=True)

    def start(self) -> None:
        self._run(
            str(self.bindir / "initdb"),
            "-D",
            str(self.datadir),
            "-U",
            self.superuser,
            "--auth=trust",
            "--encoding=UTF8",
            "--no-locale",
        )
        self.launch()

    def launch(self) -> None:
        """Start the server on its data directory (again, after ``halt``)."""
        settings = [
            f"-p {self.port}",
            "-c listen_addresses=127.0.0.1",
            f"-k {self.datadir}",
        ]
        if not self.durable:
            # A throwaway test server: durability is not the point, speed is.
            # (Benchmarks keep PostgreSQL's defaults: fsync and synchronous commits.)
            settings += [
                "-c max_connections=300",
                "-c fsync=off",
                "-c synchronous_commit=off",
                "-c full_page_writes=off",
            ]
        settings += [f"-c {setting}" for setting in self.settings]
        options = " ".join(settings)
        self._run(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.datadir),
            "-o",
            options,
            "-l",
            str(self.log),
            "-w",
            "-t",
            "60",
            "start",
        )

    def halt(self) -> None:
        """Stop the server as an operator would (``-m fast``: clients are told and
        disconnected), keeping its data for ``launch``."""
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", "fast", "-w", "stop")

    def stop(self) -> None:
        try:
            self._run(
                str(self.bindir / "pg_ctl"),
                "-D",
                str(self.datadir),
                "-m",
                "immediate",
                "-w",
                "stop",
            )
        except subprocess.CalledProcessError:
            pass
        finally:
            shutil.rmtree(self.datadir.parent, ignore_errors=True)

    def url(self, database: str = "postgres", driver: str = "postgresql+asyncpg") -> str:
        return f"{driver}://{self.superuser}@127.0.0.1:{self.port}/{database}"

    def psql(self, sql: str, database: str = "postgres") -> str:
        result = self._run(
            str(self.bindir / "psql"),
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            self.superuser,
            "-d",
            database,
            "-v",
            "ON_ERROR_STOP=1",
            "-Atc",
            sql,
        )
        return result.stdout

    def create_database(self, name: str) -> str:
        self.psql(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        self.psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def start_postgres(*, durable: bool = False, settings: tuple[str, ...] = ()) -> PostgresServer:
    """Start a new server; the caller must call ``stop()`` (in a finally).

    ``durable`` keeps PostgreSQL's default settings (fsync on), for benchmarks;
    ``settings`` adds server settings (``name=value``).
    """
    bindir = find_bindir()
    user = _server_user()
    root = Path(tempfile.mkdtemp(prefix="promo-pg-"))
    datadir = root / "data"
    datadir.mkdir()
    if user is not None:
        entry = pwd.getpwnam(user)
        for path in (root, datadir):
            os.chown(path, entry.pw_uid, entry.pw_gid)
        root.chmod(0o755)
    server = PostgresServer(
        bindir=bindir,
        port=_free_port(),
        datadir=datadir,
        user=user,
        durable=durable,
        settings=settings,
    )
    try:
        server.start()
    except BaseException:
        server.stop()
        raise
    return server
