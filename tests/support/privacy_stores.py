"""Reading what the test suite left behind, for the privacy scan: the text of every
table of a SQLite file or a PostgreSQL database, the keys and strings of a Redis
server, the lines of a log file. Each reader returns ``Columns``: for each place
(``table.column``, ``redis db 0 key``, ``line``) the distinct values found there,
which the scan matches (tests/support/privacy_match.py) place by place.

Databases are read a column at a time, text values only (on PostgreSQL the
distinct ones), picked by the database itself: a code batch leaves hundreds of
thousands of rows behind.
"""

from __future__ import annotations

import re
import sqlite3
import subprocess
import uuid
from contextlib import closing
from itertools import chain
from pathlib import Path

import redis

from tests.support.postgres import PostgresServer

SQLITE_HEADER = b"SQLite format 3\x00"
Columns = dict[str, list[object]]
# For each column of a type that can hold text (a name, an address, a JSON document,
# bytes), a line naming it and then its distinct values as text (json has no equality to
# be DISTINCT by; bytea comes as \x and hex): psql runs what the query writes (\gexec).
COPY_TEXT_COLUMNS = """
SELECT format('SELECT %L', :'marker' || ' ' || table_name || '.' || column_name),
       format('COPY (SELECT DISTINCT %I::text FROM %I.%I WHERE %I IS NOT NULL) TO STDOUT',
              column_name, table_schema, table_name, column_name)
FROM information_schema.columns
WHERE table_schema NOT IN ('pg_catalog', 'information_schema')
  AND data_type IN ('text', 'character varying', 'character', 'json', 'jsonb', 'bytea', 'ARRAY')
ORDER BY table_schema, table_name, column_name
\\gexec
"""


def is_sqlite_file(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            return handle.read(len(SQLITE_HEADER)) == SQLITE_HEADER
    except OSError:
        return False


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def sqlite_columns(path: Path) -> Columns:
    """The text and blob values of every column of every table of a SQLite file
    (whatever a column's declared type: SQLite keeps what it is given). Not DISTINCT:
    SQLite sorts for it, slower than the scan's own set."""
    found: Columns = {}
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        tables = db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        ).fetchall()
        for (table,) in tables:
            names = [row[1] for row in db.execute(f"PRAGMA table_info({_quoted(table)})")]
            for name in names:
                column = _quoted(name)
                rows = db.execute(
                    f"SELECT {column} FROM {_quoted(table)}"  # noqa: S608 (the file's names)
                    f" WHERE typeof({column}) IN ('text', 'blob')"
                ).fetchall()
                if rows:
                    found[f"{table}.{name}"] = list(chain.from_iterable(rows))
    return found


def postgres_databases(server: PostgresServer) -> list[str]:
    listed = server.psql("SELECT datname FROM pg_database WHERE NOT datistemplate ORDER BY 1")
    return [name for name in listed.splitlines() if name]


def postgres_columns(server: PostgresServer, database: str) -> Columns:
    """The distinct values of every text, JSON, bytea or array column of ``database``,
    in one psql run."""
    marker = f"--privacy-scan-{uuid.uuid4().hex}--"
    command = [
        str(server.bindir / "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
        "-v", f"marker={marker}",
        "-h", "127.0.0.1", "-p", str(server.port), "-U", server.superuser, "-d", database,
    ]  # fmt: skip
    output = subprocess.run(
        command, input=COPY_TEXT_COLUMNS, check=True, capture_output=True, text=True
    ).stdout
    return copied_columns(output, marker)


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
    """A field of ``COPY ... TO STDOUT`` text; a bytea (``\\x`` and hex digits) as bytes."""
    text = _unescape(field)
    if text.startswith("\\x") and _HEX.fullmatch(text, 2):
        return bytes.fromhex(text[2:])
    return text


def copied_columns(output: str, marker: str) -> Columns:
    """The values of one-column ``COPY ... TO STDOUT`` outputs, each after a line
    ``<marker> <table>.<column>``. An empty value is left out: it names nobody."""
    found: Columns = {}
    values: list[object] | None = None
    for line in output.split("\n"):  # rows end in \n only: other line breaks are data
        if line.startswith(marker):
            values = found.setdefault(line[len(marker) + 1 :], [])
        elif line and values is not None:
            values.append(line if "\\" not in line else _copy_value(line))
    return {place: values for place, values in found.items() if values}


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
