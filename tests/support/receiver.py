"""A real webhook receiver for the tests: an HTTP server on 127.0.0.1 in a
thread (HTTPS with ``tls``: tests.support.tls), recording every request and
answering what the test says."""

from __future__ import annotations

import json
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes
    at: float = 0.0  # time.monotonic() when it arrived

    @property
    def id(self) -> str:
        return self.headers["webhook-id"]

    @property
    def event(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed

    def verified(self, *secrets: str) -> dict[str, Any]:
        """The event, once the library found its signature good under one of
        ``secrets`` (raises WebhookVerificationError otherwise)."""
        errors: list[Exception] = []
        for secret in secrets:
            try:
                event: dict[str, Any] = Webhook(secret).verify(self.body, self.headers)
                return event
            except Exception as exc:
                errors.append(exc)
        raise errors[0]


@dataclass
class Receiver:
    url: str
    status: int = 200
    answer: bytes = b'{"ok": true}'
    # Seconds to wait before answering (a slow receiver: deliveries in flight).
    delay: float = 0.0
    received: list[Received] = field(default_factory=list)
    in_flight: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, item: Received) -> tuple[int, bytes]:
        with self._lock:
            self.received.append(item)
            self.in_flight += 1
            return self.status, self.answer

    def answered(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def ids(self) -> list[str]:
        with self._lock:
            return [r.id for r in self.received]

    def of_type(self, type_: str) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.event["type"] == type_]


@contextmanager
def running_receiver(
    path: str = "/hooks", *, tls: ssl.SSLContext | None = None
) -> Iterator[Receiver]:
    """A receiver listening on a free port of 127.0.0.1 until the block ends;
    with ``tls`` (a server context), HTTPS only. A client that refuses the
    certificate fails the handshake on accept, which the server shrugs off
    (socketserver ignores an OSError there), so nothing is recorded."""
    receiver: Receiver

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, answer = receiver.record(Received(headers, body, time.monotonic()))
            try:
                if receiver.delay:
                    time.sleep(receiver.delay)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)
            except OSError:
                pass  # the sender went away (a worker killed mid-delivery)
            finally:
                receiver.answered()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    scheme = "http"
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
        scheme = "https"
    receiver = Receiver(url=f"{scheme}://127.0.0.1:{server.server_address[1]}{path}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
