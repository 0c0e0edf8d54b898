"""Reading what the test suite left behind, for the privacy scan: every row of a
SQLite file or a PostgreSQL database, the keys and strings of a Redis server,
the lines of a log file. Each reader returns ``Columns``: for each place
(``table.column``, ``redis db 0 key``, ``line``), the values found there, which
the scan matches (tests/support/privacy_match.py) column by column.
"""

from __future__ import annotations

import re
import sqlite3
import subprocess
from contextlib import closing
from pathlib import Path

import redis

from tests.support.postgres import PostgresServer

SQLITE_HEADER = b"SQLite format 3\x00"
Columns = dict[str, list[object]]


def is_sqlite_file(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            return handle.read(len(SQLITE_HEADER)) == SQLITE_HEADER
    except OSError:
        return False


def sqlite_columns(path: Path) -> Columns:
    """The text and blob values of every table of the SQLite file at ``path``."""
    found: Columns = {}
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        tables = db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        ).fetchall()
        for (table,) in tables:
            cursor = db.execute(f'SELECT * FROM "{table}"')  # noqa: S608 (names from the file)
            names = [d[0] for d in cursor.description]
            for name, values in zip(names, zip(*cursor.fetchall(), strict=True), strict=False):
                texts: list[object] = [v for v in values if isinstance(v, str | bytes)]
                if texts:
                    found[f"{table}.{name}"] = texts
    return found


def postgres_databases(server: PostgresServer) -> list[str]:
    listed = server.psql("SELECT datname FROM pg_database WHERE NOT datistemplate ORDER BY 1")
    return [name for name in listed.splitlines() if name]


_COPY = re.compile(r'^COPY (?:[^ ]+\.)?"?([^" ]+)"? \((.*)\) FROM stdin;$')
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


def _copy_value(field: str) -> str | bytes:
    """A field of ``COPY ... TO stdout`` text; a bytea (``\\x`` and hex digits) as bytes."""
    text = _unescape(field)
    if text.startswith("\\x") and _HEX.fullmatch(text, 2):
        return bytes.fromhex(text[2:])
    return text


def postgres_columns(
    server: PostgresServer, database: str, skip: frozenset[str] = frozenset()
) -> Columns:
    """The non-null values of every table of ``database`` (``pg_dump --data-only``),
    but for the columns (``table.column``) in ``skip``."""
    command = [
        str(server.bindir / "pg_dump"),
        "-h", "127.0.0.1", "-p", str(server.port), "-U", server.superuser,
        "--data-only", "--no-owner", "--no-privileges", database,
    ]  # fmt: skip
    dump = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return copy_columns(dump, skip)


def copy_columns(dump: str, skip: frozenset[str] = frozenset()) -> Columns:
    """The values of the ``COPY ... FROM stdin`` blocks of a dump, by ``table.column``."""
    found: Columns = {}
    table: str | None = None
    names: list[str] = []
    rows: list[list[str]] = []
    for line in dump.split("\n"):  # rows end in \n only: other line breaks are data
        if table is None:
            if match := _COPY.match(line):
                table, rows = match.group(1), []
                names = [c.strip().strip('"') for c in match.group(2).split(",")]
        elif line == "\\.":
            for name, values in zip(names, zip(*rows, strict=True), strict=False):
                if f"{table}.{name}" in skip:
                    continue
                cells = [v if "\\" not in v else _copy_value(v) for v in values if v != "\\N"]
                if cells:
                    found[f"{table}.{name}"] = list(cells)
            table = None
        else:
            rows.append(line.split("\t"))
    return found


def redis_columns(url: str) -> Columns:
    """Every key of every database of a Redis server, and each string value."""
    found: Columns = {}
    with closing(redis.Redis.from_url(url)) as server:
        databases = list(server.info("keyspace"))
    base = url.rsplit("/", 1)[0] if url.count("/") > 2 else url
    for name in databases:
        db = int(str(name).removeprefix("db"))
        with closing(redis.Redis.from_url(f"{base}/{db}", decode_responses=True)) as client:
            for key in client.scan_iter(count=1000):
                found.setdefault(f"redis db {db} key", []).append(key)
                if client.type(key) == "string":
                    found.setdefault(f"redis db {db} value", []).append(client.get(key))
    return found


def log_columns(path: Path) -> Columns:
    try:
        lines: list[object] = list(path.read_text(errors="replace").splitlines())
    except OSError:
        return {}
    return {"line": lines} if lines else {}
