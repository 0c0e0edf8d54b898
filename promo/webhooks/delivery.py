"""Delivering one event to one subscription: a ``webhook_delivery`` job.

An attempt POSTs the event's envelope, signed (promo.webhooks.signing),
within ``PROMO_WEBHOOK_TIMEOUT_SECONDS``, to the address the SSRF guard
judged (promo.webhooks.urls); 2xx is delivered, anything else (another
status, a redirect, a timeout, a refused connection or address, a
certificate that does not verify) is a failed attempt. An https receiver's
certificate must chain to a CA httpx trusts by default or to one in
``PROMO_WEBHOOK_CA_FILE`` and name the URL's host; there is no way to
deliver without verifying it. No transaction is open while the receiver answers. Then, in one
transaction fenced by the job's lease: the attempt is logged (status,
latency, the start of the answer), the delivery updated, and the job done
or queued again for the next attempt (``RETRY_DELAYS``: 5 s, 5 min, 30 min,
2 h, 5 h, then every 10 h, the last exactly ``WINDOW`` = 3 days after the
first attempt; then the delivery has failed). A subscription whose attempts
have all failed for ``WINDOW`` (since ``failing_since``, cleared by any
success) is disabled with the reason, and nothing more is sent to it.

At least once: a worker that dies between sending and logging leaves the
job to be taken over, and the event is sent again with the same
``webhook-id``, on which receivers dedupe.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

import httpx
import msgspec
from sqlalchemy import Table, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from promo.clock import Clock, utc_now
from promo.db.engine import create_sessionmaker
from promo.events.outbox import PAYLOAD_TEXT, events
from promo.ids import Kind, encode
from promo.jobs.worker import Handler, JobContext, Stopped
from promo.settings import Settings
from promo.webhooks import signing, urls
from promo.webhooks.models import Attempt, Delivery, Subscription
from promo.webhooks.service import disable, signing_secrets

RETRY_DELAYS = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
)
WINDOW = timedelta(days=3)
RESPONSE_HEAD = 1000
MAX_ERROR = 1000
USER_AGENT = "promo-webhooks"

subscriptions = cast(Table, Subscription.__table__)
deliveries = cast(Table, Delivery.__table__)
attempts = cast(Table, Attempt.__table__)


def next_attempt(first_attempt_at: datetime, attempts_made: int, now: datetime) -> datetime | None:
    """When the next attempt is due after ``attempts_made`` failed ones, or None
    when the window has closed (the delivery has failed)."""
    deadline = first_attempt_at + WINDOW
    if now >= deadline:
        return None
    delay = RETRY_DELAYS[min(attempts_made, len(RETRY_DELAYS)) - 1]
    return min(now + delay, deadline)


def envelope(event_id: str, type_: str, created_at: datetime, payload: str) -> str:
    """The body: ``{"id", "type", "timestamp", "data"}``, data being the payload
    exactly as stored (the API's shape of what changed)."""
    head = msgspec.json.encode({"id": event_id, "type": type_, "timestamp": created_at})
    return f'{head[:-1].decode()},"data":{payload}}}'


@dataclass(frozen=True)
class Sent:
    status_code: int | None
    response_head: str | None
    error: str | None
    latency_ms: int

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


Post = Callable[[urls.Target, str, dict[str, str]], Awaitable[tuple[int, str]]]


def trust(ca_file: str | None) -> ssl.SSLContext:
    """What verifies receivers' certificates: httpx's default trust (certifi's
    CAs, or ``SSL_CERT_FILE``), with ``ca_file``'s CAs added. Hostname checks
    and verification stay on (``ssl.create_default_context``)."""
    context = httpx.create_ssl_context()
    if ca_file is not None:
        context.load_verify_locations(cafile=ca_file)
    return context


def poster(timeout: float, tls: ssl.SSLContext) -> Post:
    """POST with httpx: no redirects followed, no connection kept, at most
    ``RESPONSE_HEAD`` characters of the answer read; https verified by ``tls``
    against the name the URL gave (SNI and the certificate's names), not the
    address the request goes to."""

    async def post(target: urls.Target, body: str, headers: dict[str, str]) -> tuple[int, str]:
        host = urls.host_header(target)
        extensions = {"sni_hostname": target.host} if target.url.startswith("https:") else {}
        limits = httpx.Limits(max_keepalive_connections=0)
        async with (
            httpx.AsyncClient(
                timeout=timeout, follow_redirects=False, limits=limits, verify=tls
            ) as client,
            client.stream(
                "POST",
                target.url,
                content=body.encode(),
                headers={**headers, "Host": host},
                extensions=extensions,
            ) as response,
        ):
            head = b""
            async for chunk in response.aiter_bytes():
                head += chunk
                if len(head) >= RESPONSE_HEAD:
                    break
            return response.status_code, head[:RESPONSE_HEAD].decode(errors="replace")

    return post


async def send(
    url: str, body: str, headers: dict[str, str], policy: urls.Policy, post: Post
) -> Sent:
    started = time.monotonic()
    status: int | None = None
    head: str | None = None
    error: str | None = None
    try:
        target = await urls.resolve(url, policy)
        status, head = await post(target, body, headers)
        if not 200 <= status < 300:
            error = f"HTTP {status}"
    except urls.Refused as exc:
        error = f"refused: {exc}"
    except httpx.TimeoutException:
        error = "timed out"
    except httpx.HTTPError as exc:
        error = _tls_error(exc) or (
            f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        )
    latency = round((time.monotonic() - started) * 1000)
    return Sent(status, head, error[:MAX_ERROR] if error else None, latency)


def _tls_error(exc: BaseException) -> str | None:
    """The certificate's failure, said plainly, when that is what ``exc`` came from
    (httpx wraps httpcore's error, which wraps ssl's)."""
    cause: BaseException | None = exc
    seen: set[int] = set()
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"TLS: certificate verify failed: {cause.verify_message or cause}"
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return None


async def _load(session: AsyncSession, delivery_id: int) -> Any:
    return (
        await session.execute(
            select(
                deliveries.c.id,
                deliveries.c.status,
                deliveries.c.attempts,
                deliveries.c.first_attempt_at,
                deliveries.c.event_id,
                deliveries.c.subscription_id,
                events.c.type,
                events.c.created_at.label("event_created_at"),
                PAYLOAD_TEXT,
            )
            .join(events, events.c.id == deliveries.c.event_id)
            .where(deliveries.c.id == delivery_id)
        )
    ).first()


async def _record(
    session: AsyncSession, ctx: JobContext, row: Any, sent: Sent, started_at: datetime
) -> None:
    """Log the attempt and its consequences, with the job's next state."""
    now = ctx.clock()
    number = row.attempts + 1
    first = row.first_attempt_at or started_at
    due = None if sent.delivered else next_attempt(first, number, now)
    disabled = False
    if sent.delivered:
        await session.execute(
            update(subscriptions)
            .where(
                subscriptions.c.id == row.subscription_id,
                subscriptions.c.failing_since.is_not(None),
            )
            .values(failing_since=None)
        )
    else:
        await session.execute(
            update(subscriptions)
            .where(subscriptions.c.id == row.subscription_id)
            .values(failing_since=func.coalesce(subscriptions.c.failing_since, started_at))
        )
        since = await session.scalar(
            select(subscriptions.c.failing_since).where(subscriptions.c.id == row.subscription_id)
        )
        if since is not None and now - since >= WINDOW:
            reason = (
                f"every delivery failed for {WINDOW.days} days "
                f"(since {since.isoformat()}; last: {sent.error})"
            )
            disabled = await disable(session, row.subscription_id, reason, now=now)
    outcome = "delivered" if sent.delivered else ("retrying" if due and not disabled else "failed")
    await session.execute(
        insert(attempts).values(
            delivery_id=row.id,
            subscription_id=row.subscription_id,
            event_id=row.event_id,
            number=number,
            started_at=started_at,
            latency_ms=sent.latency_ms,
            status_code=sent.status_code,
            response_head=sent.response_head,
            error=sent.error,
            outcome=outcome,
        )
    )
    status = {"delivered": "delivered", "retrying": "pending", "failed": "failed"}[outcome]
    await session.execute(
        update(deliveries)
        .where(deliveries.c.id == row.id)
        .values(
            attempts=number,
            first_attempt_at=first,
            status=status,
            next_attempt_at=due if status == "pending" else None,
            last_error=sent.error,
            finished_at=None if status == "pending" else now,
        )
    )
    held = (
        await ctx.again_in(session, due)
        if status == "pending" and due is not None
        else await ctx.finish_in(session)
    )
    if not held:
        raise Stopped  # another worker has the job: this attempt is not logged


def handler(settings: Settings, *, wall: Clock = utc_now, post: Post | None = None) -> Handler:
    """The ``webhook_delivery`` handler. ``wall`` gives the instant a delivery is
    signed at (``webhook-timestamp``, which receivers compare with their own
    clock): the host's clock even where the job clock is a test's."""
    policy = urls.Policy.of(settings)
    sender = post or poster(settings.webhook_timeout_seconds, trust(settings.webhook_ca_file))

    async def deliver(ctx: JobContext) -> None:
        delivery_id = int(ctx.job.payload["delivery_id"])
        sessions = create_sessionmaker(ctx.bind)
        async with sessions() as session:
            row = await _load(session, delivery_id)
            sub = None
            if row is not None:
                found = select(subscriptions).where(subscriptions.c.id == row.subscription_id)
                sub = (await session.execute(found)).first()
        if row is None or sub is None or row.status != "pending" or not sub.active:
            return  # ended meanwhile (the subscription was disabled): nothing to send
        event_id = encode(Kind.EVENT, row.event_id)
        body = envelope(event_id, row.type, row.event_created_at, row.payload_text)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            **signing.headers(event_id, body, signing_secrets(sub, ctx.clock()), at=wall()),
        }
        started_at = ctx.clock()
        sent = await send(sub.url, body, headers, policy, sender)
        try:
            async with sessions() as session, session.begin():
                await _record(session, ctx, row, sent, started_at)
        except Exception as exc:
            if not isinstance(exc, Stopped) and ctx.job.attempt >= ctx.job.max_attempts:
                await _give_up(sessions, delivery_id, f"{type(exc).__name__}: {exc}", ctx.clock())
            raise

    return deliver


async def _give_up(
    sessions: Callable[[], AsyncSession], delivery_id: int, error: str, now: datetime
) -> None:
    """The job failed for good (promo could not log its attempts): so does the delivery."""
    async with sessions() as session, session.begin():
        await session.execute(
            update(deliveries)
            .where(deliveries.c.id == delivery_id, deliveries.c.status == "pending")
            .values(
                status="failed", next_attempt_at=None, finished_at=now, last_error=error[:MAX_ERROR]
            )
        )
