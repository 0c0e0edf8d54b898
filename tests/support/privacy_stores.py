"""Reading what the test suite left behind, for the privacy scan: every row of a
SQLite file or a PostgreSQL database, the keys and strings of a Redis server,
the lines of a server's log file. Each reader yields ``(where, value)`` pairs
that the scan matches (tests/support/privacy_match.py); a row's affiliate
e-mails are read first, since those are exempt.
"""

from __future__ import annotations

import re
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

from tests.support.postgres import PostgresServer

SQLITE_HEADER = b"SQLite format 3\x00"
AFFILIATES = "affiliates"
Cell = tuple[str, object]  # (table.column, value)


def is_sqlite_file(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            return handle.read(len(SQLITE_HEADER)) == SQLITE_HEADER
    except OSError:
        return False


def sqlite_cells(path: Path) -> Iterator[Cell]:
    """Every text or blob cell of every table of the SQLite file at ``path``."""
    uri = f"file:{path}?mode=ro"
    with closing(sqlite3.connect(uri, uri=True)) as db:
        tables = [
            name
            for (name,) in db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        for table in tables:
            cursor = db.execute(f'SELECT * FROM "{table}"')  # noqa: S608 (names from the file)
            columns = [d[0] for d in cursor.description]
            for row in cursor:
                for column, value in zip(columns, row, strict=True):
                    if isinstance(value, str | bytes):
                        yield f"{table}.{column}", value


def postgres_databases(server: PostgresServer) -> list[str]:
    listed = server.psql("SELECT datname FROM pg_database WHERE NOT datistemplate ORDER BY 1")
    return [name for name in listed.splitlines() if name]


_COPY = re.compile(r"^COPY (?:[^ ]+\.)?\"?([^\" ]+)\"? \((.*)\) FROM stdin;$")
_ESCAPE = re.compile(r"\\(?:([0-7]{1,3})|x([0-9A-Fa-f]{1,2})|(.))")
_HEX = re.compile(r"(?:[0-9a-fA-F]{2})*")
_ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}


def _unescape(field: str) -> str:
    def one(match: re.Match[str]) -> str:
        octal, hexa, char = match.groups()
        if octal:
            return chr(int(octal, 8))
        if hexa:
            return chr(int(hexa, 16))
        return _ESCAPES.get(char, char)

    return _ESCAPE.sub(one, field)


def _cell(text: str) -> str | bytes:
    """A bytea column is dumped as ``\\x`` and hex digits: its bytes."""
    if text.startswith("\\x") and _HEX.fullmatch(text, 2):
        return bytes.fromhex(text[2:])
    return text


def postgres_cells(server: PostgresServer, database: str) -> Iterator[Cell]:
    """Every non-null cell of every table of ``database`` (``pg_dump --data-only``)."""
    command = [
        str(server.bindir / "pg_dump"),
        "-h", "127.0.0.1", "-p", str(server.port), "-U", server.superuser,
        "--data-only", "--no-owner", "--no-privileges", database,
    ]  # fmt: skip
    dump = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    table: str | None = None
    columns: list[str] = []
    for line in dump.splitlines():
        if table is None:
            if match := _COPY.match(line):
                table = match.group(1)
                columns = [c.strip().strip('"') for c in match.group(2).split(",")]
            continue
        if line == "\\.":
            table = None
            continue
        for column, value in zip(columns, line.split("\t"), strict=False):
            if value != "\\N":
                yield f"{table}.{column}", _cell(_unescape(value))


def redis_texts(url: str) -> Iterator[Cell]:
    """Every key of every database of a Redis server, and each string value."""
    import redis

    databases = redis.Redis.from_url(url).info("keyspace")
    for name in databases:
        db = int(str(name).removeprefix("db"))
        base = url.rsplit("/", 1)[0] if url.count("/") > 2 else url
        client = redis.Redis.from_url(f"{base}/{db}", decode_responses=True)
        with closing(client):
            for key in client.scan_iter(count=1000):
                yield f"redis db {db} key", key
                if client.type(key) == "string":
                    yield f"redis db {db} key {key!r}", client.get(key)


def log_lines(path: Path) -> Iterator[tuple[int, str]]:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return
    yield from enumerate(text.splitlines(), start=1)
