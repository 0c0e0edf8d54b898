"""The privacy scan: no customer e-mail or id the tests used is kept or shown in clear.

A pytest plugin that runs with the whole suite (tests/conftest.py loads it);
``-p no:tests.support.privacy_scan`` turns it off.

What it collects, per test: every customer e-mail and id that a request of
the test sent (``customer_email``, ``customer_id`` anywhere in a JSON body, a
form or the query string, the items of ``customer_ids``), through any httpx
client (the ``client`` fixture, the clients tests build on their own apps,
the clients of real ``promo serve`` processes); also the affiliates' contact
e-mails (``email`` of POST/PATCH /v1/affiliates[/{id}] and /v1/me), which are
exempt, and every other value the requests carried (tests/support/
privacy_match.py says what matches and what is exempt).

Where it looks, per test, for that test's identities:
- every row of every table on the test's connection, read before it is rolled
  back (``snapshot``: the ``db`` fixture calls it before its session's
  savepoint is rolled back, the ``connection`` fixture before the outer
  transaction is; the first call of a test counts);
- every response the test received (JSON, CSV exports, /metrics, pages; headers);
- what promo itself sent: requests made from promo's code through httpx
  (webhooks), and every webhook a test's receiver (tests/support/receiver.py)
  records, served processes' included; what a receiver answered is taken as
  another field's value (promo keeps it);
- every log record emitted during the test: stdlib records (message, args,
  extra fields, exception messages, not tracebacks' source lines; the
  ``promo`` loggers at DEBUG, the others at their level) and structlog events
  (a processor just before the renderer). The test's own client loggers
  (httpx, ...) are left out.
A finding makes the test's teardown fail ("ERROR at teardown of ...", after
the test's own result), with one line per place: the identities found there,
and where ("database row, column redemptions.customer_key", "response of POST
/v1/redemptions (201)", "log record promo.errors ERROR 'message'").

Where it looks for every identity of the session so far: each PostgreSQL
database just before ``PostgresServer.drop_database`` drops it, and, at the
end, every database of the session's server and its server log; each Redis
server before it stops (keys and string values); each ``promo serve`` log when
its server stops; SQLite files that in-process engines opened outside the
session's directories, before each teardown (when changed); at the end every
SQLite file of the suite's ``sqlite_dir`` and of pytest's base temporary
directory, and the ``*.log`` files there. Findings there fail the run (exit
status 1) and are listed in the "privacy scan" section of the summary;
``--privacy-report=FILE`` writes every finding, one per line.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Generator, Iterable, MutableMapping
from dataclasses import dataclass, field
from functools import partial, wraps
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog
from sqlalchemy import Result, Select, event, exists, literal, literal_column, select, union_all
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.ext.asyncio import AsyncConnection

from promo.db.models import metadata
from tests.support import privacy_stores as stores
from tests.support.postgres import PostgresServer
from tests.support.privacy_match import Identities, Matcher, email_of
from tests.support.receiver import Received, Receiver
from tests.support.redis import RedisServer
from tests.support.server import ServerProcess

PLUGIN = "privacy-scan"
# The test's side of the wire logs requests with their query strings.
CLIENT_LOGGERS = ("httpx", "httpcore", "hpack", "urllib3", "requests", "schemathesis")
SESSION_FIXTURES = ("sqlite_dir", "postgres")
RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "taskName",
    "_logger",
    "_name",
    "_from_structlog",
    "_record",
}
SHOWN = 40  # places listed in the summary
SAMPLE = 5  # identities named per place

Cell = tuple[str, object]


@dataclass(frozen=True)
class Finding:
    origin: str  # the test's node id, or "after <node id>", "at the end of the session"
    identity: str  # "e-mail 'ana@example.com'" or "id 'c1'"
    where: str

    def line(self) -> str:
        return f"{self.identity} in {self.where}"


@dataclass
class Trace:
    """What one test sent, received and logged."""

    nodeid: str
    identities: Identities = field(default_factory=Identities)
    responses: list[tuple[str, httpx.Response]] = field(default_factory=list)
    # What promo itself sent (webhooks): looked in; what came back was the tests' answer.
    sent: list[tuple[str, bytes, str]] = field(default_factory=list)  # (where, body, type)
    answers: list[httpx.Response | bytes] = field(default_factory=list)
    logs: list[logging.LogRecord | dict[str, Any]] = field(default_factory=list)
    cells: list[Cell] = field(default_factory=list)
    snapshot_taken: bool = False
    notes: list[str] = field(default_factory=list)


class PrivacyScan:
    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.current: Trace | None = None
        self.session = Identities()
        self.findings: list[Finding] = []  # the session's, outside any one test
        self.failed_tests: dict[str, int] = {}
        self.notes: list[str] = []
        self.tests_with_identities = 0
        self.seconds = {"tests": 0.0, "session": 0.0, "probes": 0.0}
        self.store_seconds: dict[str, float] = {}
        self.looked = dict.fromkeys(("database values", "responses", "log records"), 0)
        self.sqlite_dir: Path | None = None
        self.sqlite_files: set[Path] = set()  # that in-process engines connected to
        self._matchers: dict[tuple[object, ...], Matcher] = {}
        self._sqlite_seen: dict[Path, tuple[int, ...]] = {}
        self._sqlite_inside: set[Path] = set()  # under the session's directories
        self.report: list[str] = []  # every finding, for --privacy-report
        self._undo: list[Callable[[], None]] = []

    # --- installing the probes ------------------------------------------------

    def install(self) -> None:
        self._patch(httpx.AsyncClient, "send", _async_send)
        self._patch(httpx.Client, "send", _sync_send)
        self._patch(PostgresServer, "drop_database", _scanned_drop)
        self._patch(RedisServer, "stop", _scanned_redis_stop)
        self._patch(ServerProcess, "stop", _scanned_server_stop)
        self._patch(Receiver, "record", _received_webhook)
        if not event.contains(Engine, "engine_connect", _note_sqlite_file):
            event.listen(Engine, "engine_connect", _note_sqlite_file)
            self._undo.append(lambda: event.remove(Engine, "engine_connect", _note_sqlite_file))
        previous = logging.getLogRecordFactory()
        logging.setLogRecordFactory(_record_factory(previous))
        self._undo.append(lambda: logging.setLogRecordFactory(previous))
        promo_logger = logging.getLogger("promo")
        level = promo_logger.level
        promo_logger.setLevel(logging.DEBUG)
        self._undo.append(lambda: promo_logger.setLevel(level))

    def uninstall(self) -> None:
        while self._undo:
            self._undo.pop()()

    def _patch(self, owner: type, name: str, wrapper: Callable[[Any], Any]) -> None:
        original = owner.__dict__[name]
        if getattr(original, "_privacy_scan", False):
            return  # an outer session (pytester) already probes it
        patched = wrapper(original)
        patched._privacy_scan = True
        setattr(owner, name, patched)
        self._undo.append(lambda: setattr(owner, name, original))

    # --- what tests send, receive and log -----------------------------------------

    def on_request(self, request: httpx.Request, *, by_service: bool = False) -> None:
        if self.current is None:
            return
        started = time.perf_counter()
        try:
            body = request.content
        except httpx.RequestNotRead:
            body = b""
        if by_service:  # a webhook: what promo shows a third party
            where = f"request {request.method} {request.url} sent by promo"
            self.on_sent(where, body, request.headers.get("content-type", ""))
            return
        self.current.identities.add_request(
            request.method,
            str(request.url),
            body,
            request.headers.get("content-type", ""),
            request.headers,
        )
        self.seconds["probes"] += time.perf_counter() - started

    def on_response(
        self, request: httpx.Request, response: httpx.Response, *, by_service: bool = False
    ) -> None:
        if self.current is None:
            return
        if by_service:
            self.current.answers.append(response)
        else:
            self.current.responses.append((f"{request.method} {request.url.path}", response))

    def on_sent(self, where: str, body: bytes, content_type: str) -> None:
        if self.current is not None:
            self.current.sent.append((where, body, content_type))

    def on_answer(self, answer: bytes) -> None:
        if self.current is not None:
            self.current.answers.append(answer)

    def on_log(self, entry: logging.LogRecord | dict[str, Any]) -> None:
        if self.current is not None:
            self.current.logs.append(entry)

    async def snapshot(self, connection: AsyncConnection) -> None:
        """Every row the test's connection sees, before its transaction is rolled back."""
        trace = self.current
        if trace is None or trace.snapshot_taken or not trace.identities:
            return
        trace.snapshot_taken = True
        started = time.perf_counter()
        tables = list(metadata.sorted_tables)
        probes = [select(literal(t.name)).where(exists().select_from(t)) for t in tables]
        try:
            filled = set((await connection.execute(union_all(*probes))).scalars())
            for table in (t for t in tables if t.name in filled):
                query: Select[Any] = select(literal_column("*")).select_from(table)
                result: Result[Any] = await connection.execute(query)
                columns = list(result.keys())
                for row in result:
                    trace.cells.extend(
                        (f"{table.name}.{column}", value)
                        for column, value in zip(columns, row, strict=True)
                        if value is not None
                    )
        except Exception as exc:  # an aborted transaction, a server that is down
            trace.notes.append(f"database not read: {type(exc).__name__}: {exc}"[:200])
        self.seconds["tests"] += time.perf_counter() - started

    # --- per-test verdict -------------------------------------------------------------

    def verdict(self, trace: Trace) -> list[Finding]:
        """The findings of one test, at the end of its teardown."""
        for answer in trace.answers:  # the tests' receivers said it: promo may keep it
            trace.identities.add_answer(_content(answer))
        self.session.update(trace.identities)
        self.notes.extend(f"{trace.nodeid}: {note}" for note in trace.notes)
        if not trace.identities:
            return []
        self.tests_with_identities += 1
        started = time.perf_counter()
        affiliates = {
            email_of(str(v)) for where, v in trace.cells if where == "affiliates.email"
        } - {None}
        matcher = trace.identities.matcher(a for a in affiliates if a)
        found: dict[tuple[str, str], None] = {}

        def add(identities: Iterable[str], where: str) -> None:
            for identity in identities:
                found.setdefault((matcher.describe(identity), where), None)

        self.looked["database values"] += len(trace.cells)
        self.looked["responses"] += len(trace.responses)
        self.looked["log records"] += len(trace.logs)
        for where, value in trace.cells:
            add(matcher.in_cell(value), f"database row, column {where}")
        for exchange, response in trace.responses:
            add(_in_response(matcher, response), f"response of {exchange} ({response.status_code})")
        for where, body, content_type in trace.sent:
            add(matcher.in_body(body, content_type), where)
        for entry in trace.logs:
            add(*_in_log(matcher, entry))
        self.seconds["tests"] += time.perf_counter() - started
        findings = [Finding(trace.nodeid, identity, where) for identity, where in found]
        self.report += [f"test\t{f.origin}\t{f.identity}\t{f.where}" for f in findings]
        return findings

    # --- the session's stores -----------------------------------------------------

    def identities(self) -> Identities:
        """Every identity of the session so far, the running test's included."""
        if self.current is not None:
            self.session.update(self.current.identities)
        return self.session

    def scan_store(
        self,
        kind: str,
        store: str,
        read: Callable[[], stores.Columns],
        *,
        words: bool = False,
    ) -> None:
        """Match every identity of the session so far against what a store holds,
        column by column (``words``: as free text, for logs and Redis keys)."""
        identities = self.identities()
        if not identities:
            return
        started = time.perf_counter()
        try:
            columns = read()
        except Exception as exc:
            self.notes.append(f"{store} not read: {type(exc).__name__}: {exc}"[:200])
            return
        matcher = self.session_matcher(
            email_of(_text(v)) or ""
            for where, values in columns.items()
            if where.endswith("affiliates.email")
            for v in values
        )
        after = f"after {self.current.nodeid}" if self.current else "at the end of the session"
        seen = {(f.identity, f.where) for f in self.findings}
        for where, every_value in columns.items():
            values = _distinct(every_value)  # findings are per place: each value once is enough
            try:
                joined = "\n".join(values)  # type: ignore[arg-type]  # str, mostly
            except TypeError:
                joined = "\n".join(map(_text, values))
            narrowed = matcher.narrowed(joined)
            if not narrowed:
                continue
            for value in values:
                found = narrowed.in_words(_text(value)) if words else narrowed.in_cell(value)
                for identity in found:
                    key = (matcher.describe(identity), f"{store}: {where}")
                    if key not in seen:
                        seen.add(key)
                        self.findings.append(Finding(after, *key))
                        self.report.append(f"session\t{after}\t{key[0]}\t{key[1]}")
        elapsed = time.perf_counter() - started
        self.seconds["session"] += elapsed
        self.store_seconds[kind] = self.store_seconds.get(kind, 0.0) + elapsed
        count = sum(map(len, columns.values()))
        self.report.append(f"store\t{after}\t{count} values, {elapsed:.3f} s\t{store}")

    def session_matcher(self, store_affiliates: Iterable[str]) -> Matcher:
        """The session's matcher, less the e-mails of a store's own affiliates (cached:
        building it for thousands of identities is what costs)."""
        session = self.session
        canonicals = {e.canonical for e in session.emails.values()}
        exempt = frozenset(canonicals & set(store_affiliates))
        key = (len(session.emails), len(session.ids), len(session.other_values), exempt)
        if key not in self._matchers:
            self._matchers = {key: session.matcher(exempt)}
        return self._matchers[key]

    def scan_postgres(self, server: PostgresServer, database: str) -> None:
        read = partial(stores.postgres_columns, server, database)
        self.scan_store("PostgreSQL", f"PostgreSQL database {database}", read)

    def scan_sqlite(self, path: Path) -> None:
        self.scan_store("SQLite", f"SQLite file {path}", partial(stores.sqlite_columns, path))

    def scan_log(self, label: str, path: Path) -> None:
        read = partial(stores.log_columns, path)
        self.scan_store("logs", f"{label} {path}", read, words=True)

    def scan_directory(self, root: Path) -> None:
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            if stores.is_sqlite_file(path):
                self.scan_sqlite(path)
            elif path.suffix == ".log":
                self.scan_log("log file", path)

    def scan_opened_sqlite_files(self) -> None:
        """SQLite files in-process engines opened outside the session's directories
        (a module's own temporary directory, removed by its fixture), when changed."""
        started, scanning = time.perf_counter(), self.seconds["session"]
        for path in self.sqlite_files - self._sqlite_inside:
            if any(path.is_relative_to(root) for root in self.session_dirs()):
                self._sqlite_inside.add(path)  # scanned at the end
                continue
            try:
                stat = path.stat()
            except OSError:
                continue
            # Again when it changed, or when there are identities it was not searched for.
            searched = len(self.session.ids) + len(self.session.emails)
            version = (stat.st_mtime_ns, stat.st_size, searched)
            if self._sqlite_seen.get(path) != version:
                self._sqlite_seen[path] = version
                self.scan_sqlite(path)
        scanned = self.seconds["session"] - scanning  # counted with the session's stores
        self.seconds["probes"] += time.perf_counter() - started - scanned

    def session_dirs(self) -> list[Path]:
        factory = getattr(self.config, "_tmp_path_factory", None)
        basetemp = getattr(factory, "_basetemp", None)
        return [Path(d) for d in (self.sqlite_dir, basetemp) if d is not None]

    def finish_session_fixture(self, name: str, value: object) -> None:
        """Before ``sqlite_dir`` is removed or ``postgres`` stopped (all tests are done)."""
        current, self.current = self.current, None  # attributed to the session's end
        if name == "sqlite_dir" and isinstance(value, Path):
            self.scan_directory(value)
        elif name == "postgres" and isinstance(value, PostgresServer):
            for database in stores.postgres_databases(value):
                self.scan_postgres(value, database)
            self.scan_log("PostgreSQL log", value.log)
        self.current = current

    # --- pytest hooks -----------------------------------------------------------------

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> Generator[None, object, object]:
        self.current = Trace(item.nodeid)
        _ensure_structlog_probe()
        try:
            return (yield)
        finally:
            self.current = None

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        if call.when != "teardown" or self.current is None:
            return report
        findings = self.verdict(self.current)
        if findings:
            self.failed_tests[item.nodeid] = len(findings)
            text = "\n".join(
                [f"privacy scan: {len(findings)} customer identities in clear", ""]
                + [f"  {line}" for line in grouped(findings)]
            )
            if report.failed:
                report.sections.append(("privacy scan", text))
            else:
                report.outcome = "failed"
                report.longrepr = text
        return report

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> Generator[None, object, object]:
        self.scan_opened_sqlite_files()  # before fixtures remove their directories
        return (yield)

    @pytest.hookimpl(wrapper=True)
    def pytest_fixture_setup(
        self, fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest
    ) -> Generator[None, object, object]:
        value = yield
        if fixturedef.argname == "sqlite_dir" and isinstance(value, Path):
            self.sqlite_dir = value
        if fixturedef.argname in SESSION_FIXTURES and fixturedef.scope == "session":
            # Registered after the fixture's own teardown, so it runs before it.
            fixturedef.addfinalizer(lambda: self.finish_session_fixture(fixturedef.argname, value))
        return value

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        factory = getattr(self.config, "_tmp_path_factory", None)
        basetemp = getattr(factory, "_basetemp", None)
        if basetemp is not None:
            self.scan_directory(Path(basetemp))
        self.scan_opened_sqlite_files()
        if self.findings and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        write = terminalreporter.write_line
        terminalreporter.section("privacy scan")
        write(
            f"{len(self.session.emails)} e-mails and {len(self.session.ids)} customer ids "
            f"collected from the requests of {self.tests_with_identities} tests; scanning took "
            f"{self.seconds['tests']:.1f} s in tests, {self.seconds['session']:.1f} s for the "
            "session's stores ("
            + ", ".join(f"{k} {v:.1f} s" for k, v in sorted(self.store_seconds.items()))
            + f"), {self.seconds['probes']:.1f} s reading requests and checking SQLite files"
        )
        affiliates = self.session.affiliate_emails
        exempt = sum(1 for e in self.session.emails.values() if e.canonical in affiliates)
        write(f"exempt: {exempt} customer e-mails that are also affiliates' contact addresses")
        write("those tests' " + ", ".join(f"{k}: {v}" for k, v in self.looked.items()))
        count = sum(self.failed_tests.values())
        write(f"{count} findings in {len(self.failed_tests)} tests (errors at their teardown)")
        write(f"{len(self.findings)} findings in what the session left behind")
        places = grouped(self.findings)
        for line in places[:SHOWN]:
            write(f"  {line}")
        if len(places) > SHOWN:
            write(f"  ... and {len(places) - SHOWN} more places (--privacy-report=FILE: all)")
        for note in self.notes[:10]:
            write(f"  note: {note}")
        if len(self.notes) > 10:
            write(f"  ... and {len(self.notes) - 10} more notes")
        path = self.config.getoption("privacy_report", None)
        if path:
            Path(path).write_text("".join(f"{line}\n" for line in self.report))
            write(f"every finding: {path}")


def grouped(findings: Iterable[Finding]) -> list[str]:
    """One line per place: the identities found there, the first few named."""
    places: dict[str, list[str]] = {}
    for finding in findings:
        places.setdefault(finding.where, []).append(finding.identity)
    lines = []
    for where, identities in places.items():
        identities.sort()
        named = ", ".join(identities[:SAMPLE])
        more = f" and {len(identities) - SAMPLE} more" if len(identities) > SAMPLE else ""
        lines.append(f"{named}{more} in {where}")
    return lines


# --- the probes ------------------------------------------------------------------------

_active: list[PrivacyScan] = []


def _note_sqlite_file(connection: Connection) -> None:
    url = connection.engine.url
    if url.get_backend_name() != "sqlite" or url.database in {None, "", ":memory:"}:
        return
    if (scan := _scan()) is not None:
        scan.sqlite_files.add(Path(str(url.database)).resolve())


def _scan() -> PrivacyScan | None:
    return _active[-1] if _active else None


async def snapshot(connection: AsyncConnection) -> None:
    """Called by the ``connection`` fixture before its rollback; nothing when turned off."""
    if (scan := _scan()) is not None:
        await scan.snapshot(connection)


def _sent_by_service() -> bool:
    """Whether the request being sent comes from promo's own code (a webhook), not a test's."""
    frame = sys._getframe(2)
    while frame is not None:
        module = str(frame.f_globals.get("__name__", ""))
        if module != __name__ and module.split(".")[0] not in {"httpx", "contextlib", "asyncio"}:
            return module.split(".")[0] == "promo"
        frame = frame.f_back  # type: ignore[assignment]
    return False


def _async_send(original: Any) -> Any:
    @wraps(original)
    async def send(client: httpx.AsyncClient, request: httpx.Request, **kwargs: Any) -> Any:
        by_service = _sent_by_service()
        if (scan := _scan()) is not None:
            scan.on_request(request, by_service=by_service)
        response = await original(client, request, **kwargs)
        if (scan := _scan()) is not None:
            scan.on_response(request, response, by_service=by_service)
        return response

    return send


def _sync_send(original: Any) -> Any:
    @wraps(original)
    def send(client: httpx.Client, request: httpx.Request, **kwargs: Any) -> Any:
        by_service = _sent_by_service()
        if (scan := _scan()) is not None:
            scan.on_request(request, by_service=by_service)
        response = original(client, request, **kwargs)
        if (scan := _scan()) is not None:
            scan.on_response(request, response, by_service=by_service)
        return response

    return send


def _received_webhook(original: Any) -> Any:
    @wraps(original)
    def record(receiver: Receiver, item: Received) -> tuple[int, bytes]:
        status, answer = original(receiver, item)
        if (scan := _scan()) is not None:
            where = f"webhook received by a test's receiver at {receiver.url}"
            scan.on_sent(where, item.body, item.headers.get("content-type", ""))
            scan.on_answer(answer)
        return status, answer

    return record


def _scanned_drop(original: Any) -> Any:
    @wraps(original)
    def drop_database(server: PostgresServer, name: str) -> None:
        if (scan := _scan()) is not None:
            scan.scan_postgres(server, name)
        original(server, name)

    return drop_database


def _scanned_redis_stop(original: Any) -> Any:
    @wraps(original)
    def stop(server: RedisServer) -> None:
        if (scan := _scan()) is not None and server.ping():
            read = partial(stores.redis_columns, server.url)
            scan.scan_store("Redis", f"Redis {server.url}", read, words=True)
        original(server)

    return stop


def _scanned_server_stop(original: Any) -> Any:
    @wraps(original)
    def stop(server: ServerProcess) -> None:
        original(server)
        if (scan := _scan()) is not None:
            scan.scan_log("promo serve log", server.log)

    return stop


def _record_factory(previous: Callable[..., logging.LogRecord]) -> Callable[..., logging.LogRecord]:
    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        if (scan := _scan()) is not None and not record.name.startswith(CLIENT_LOGGERS):
            scan.on_log(record)
        return record

    return factory


def _structlog_probe(
    logger: Any, method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    if (scan := _scan()) is not None:
        scan.on_log(dict(event))
    return event


def _ensure_structlog_probe() -> None:
    """Just before the renderer of whatever structlog configuration is in force
    (configure_logging's, capture_logs', or the default one tests run with)."""
    processors = structlog.get_config()["processors"]
    if _structlog_probe in processors:
        return
    if isinstance(processors, list):
        processors.insert(max(len(processors) - 1, 0), _structlog_probe)
    else:
        structlog.configure(processors=[*processors[:-1], _structlog_probe, *processors[-1:]])


# --- reading responses and log records ----------------------------------------------------


def _content(answer: httpx.Response | bytes) -> bytes:
    if isinstance(answer, bytes):
        return answer
    try:
        return answer.content
    except httpx.ResponseNotRead:
        return b""


def _distinct(values: list[object]) -> list[object]:
    try:
        return list(set(values))
    except TypeError:  # a dict or a list: not hashable, kept as they are
        return values


def _text(value: object) -> str:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", "replace")
    return value if isinstance(value, str) else str(value)


def _in_response(matcher: Matcher, response: httpx.Response) -> set[str]:
    try:
        content = response.content
    except httpx.ResponseNotRead:
        return set()  # streamed and never read: the test did not look either
    found = matcher.in_body(content, response.headers.get("content-type", ""))
    for name, value in response.headers.items():
        if name.lower() not in {"content-type", "content-length", "date"}:
            found |= matcher.in_value(value)
    return found


def _exception_texts(error: object) -> list[str]:
    """The messages of an exception and its causes; not the traceback's source lines."""
    if isinstance(error, tuple):
        error = error[1] if len(error) > 1 else None
    texts: list[str] = []
    while isinstance(error, BaseException) and len(texts) < 10:
        texts.append(f"{type(error).__name__}: {error}")
        error = error.__cause__ or error.__context__
    return texts


def _in_log(matcher: Matcher, entry: logging.LogRecord | dict[str, Any]) -> tuple[set[str], str]:
    """The identities of one log record, and how to name the record."""
    found: set[str] = set()
    if isinstance(entry, dict):  # a structlog event
        fields, words = dict(entry), []
        event = str(fields.pop("event", ""))
        where = f"structlog event {event[:60]!r}"
        words.append(event)
    else:
        fields = {k: v for k, v in vars(entry).items() if k not in RECORD_FIELDS}
        if isinstance(entry.msg, dict):
            fields.update(entry.msg)
            event = str(entry.msg.get("event", ""))
        else:
            try:
                event = entry.getMessage()
            except Exception:
                event = str(entry.msg)
        words = [event]
        args = entry.args.values() if isinstance(entry.args, dict) else entry.args or ()
        for position, arg in enumerate(args):
            fields[f"arg {position}"] = arg
        where = f"log record {entry.name} {entry.levelname} {event[:60]!r}"
        words += _exception_texts(entry.exc_info)
    for name, value in fields.items():
        if name in {"exc_info", "exception"} or isinstance(value, BaseException):
            words += _exception_texts(value) if name != "exception" else [str(value)]
        elif isinstance(value, str | bytes | dict | list | tuple):
            found |= matcher.in_cell(value)
        elif value is not None and not isinstance(value, int | float | bool):
            words.append(str(value))
    for text in words:
        found |= matcher.in_words(text)
    return found, where


# --- registration -----------------------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--privacy-report",
        metavar="FILE",
        help="privacy scan: write every finding to FILE (scope, test, identity, where; tabs)",
    )


def pytest_configure(config: pytest.Config) -> None:
    scan = PrivacyScan(config)
    config.pluginmanager.register(scan, PLUGIN)
    _active.append(scan)
    scan.install()


def pytest_unconfigure(config: pytest.Config) -> None:
    scan = config.pluginmanager.get_plugin(PLUGIN)
    if isinstance(scan, PrivacyScan):
        scan.uninstall()
        if scan in _active:
            _active.remove(scan)
