"""/v1/webhooks (marketer, accountant, admin): subscriptions, their delivery
log, redelivery; which events each role may subscribe to is
promo.webhooks.access."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from litestar import Controller, Response, get, patch, post
from litestar.background_tasks import BackgroundTask
from litestar.datastructures import State
from litestar.params import FromPath, JSONBody, QueryParameter

from promo import audit
from promo.auth.guards import allow
from promo.auth.roles import Principal
from promo.deps import Caller, ClockDep, DbSession, PageCursor, PageLimit
from promo.ids import Kind, decode, encode, optional
from promo.jobs.inprocess import AppJobs
from promo.schemas import DEFAULT_LIMIT, decode_cursor, next_cursor
from promo.webhooks import access, service, urls
from promo.webhooks.schemas import (
    AttemptPage,
    Redelivery,
    RedeliveryQueued,
    SecretRotation,
    WebhookCreate,
    WebhookPage,
    WebhookPatch,
    WebhookRead,
    WebhookWithSecret,
)

WebhookId = FromPath[str]


def _with_secret(read: WebhookRead, secret: str) -> WebhookWithSecret:
    return WebhookWithSecret(**{f: getattr(read, f) for f in read.__struct_fields__}, secret=secret)


def _who(principal: Principal) -> str:
    if principal.key_id is None:
        user = encode(Kind.CONSOLE_USER, principal.user_id or 0)
        return f"a {principal.role.value} console account ({user})"
    return f"a {principal.role.value} key ({encode(Kind.API_KEY, principal.key_id)})"


class WebhookController(Controller):
    path = "/v1/webhooks"
    tags = ["webhooks"]
    guards = [allow(*access.ROLES)]

    @post(
        "/",
        status_code=201,
        description="Subscribe a URL to events. The answer carries the signing secret "
        "(``whsec_...``): it is shown this once. Who may subscribe to what: "
        f"{access.describe()}; another event is 403 ``{access.CODE}`` naming it.",
    )
    async def create_webhook(
        self,
        data: JSONBody[WebhookCreate],
        session: DbSession,
        clock: ClockDep,
        principal: Caller,
        state: State,
    ) -> WebhookWithSecret:
        sub = await service.create(
            session, data, urls.Policy.of(state.settings), role=principal.role, now=clock()
        )
        read = service.webhook_read(sub, clock())
        await audit.record(session, principal, "webhook.create", read.id, now=clock(), details=data)
        return _with_secret(read, sub.secret)

    @get("/")
    async def list_webhooks(
        self,
        session: DbSession,
        clock: ClockDep,
        cursor: PageCursor = None,
        limit: PageLimit = DEFAULT_LIMIT,
    ) -> WebhookPage:
        rows = await service.list_subscriptions(
            session, after_id=decode_cursor(cursor), limit=limit
        )
        return WebhookPage(
            items=[service.webhook_read(sub, clock()) for sub in rows],
            next_cursor=next_cursor([sub.id for sub in rows], limit),
        )

    @get("/{webhook_id:str}")
    async def get_webhook(
        self, webhook_id: WebhookId, session: DbSession, clock: ClockDep
    ) -> WebhookRead:
        """A subscription: active, or disabled with the reason; never its secret."""
        sub = await service.get(session, decode(Kind.WEBHOOK, webhook_id))
        return service.webhook_read(sub, clock())

    @patch(
        "/{webhook_id:str}",
        description="Change the URL, the events or the description; ``active: false`` "
        "disables (pending deliveries end), ``active: true`` enables again. Only a role "
        "that may subscribe to every event of the subscription, before and after, may "
        f"change it (403 ``{access.CODE}``): {access.describe()}.",
    )
    async def patch_webhook(
        self,
        webhook_id: WebhookId,
        data: JSONBody[WebhookPatch],
        session: DbSession,
        clock: ClockDep,
        principal: Caller,
        state: State,
    ) -> WebhookRead:
        sub = await service.get(session, decode(Kind.WEBHOOK, webhook_id))
        sub = await service.patch(
            session,
            sub,
            data,
            urls.Policy.of(state.settings),
            role=principal.role,
            who=_who(principal),
            now=clock(),
        )
        read = service.webhook_read(sub, clock())
        await audit.record(session, principal, "webhook.update", read.id, now=clock(), details=data)
        return read

    @post("/{webhook_id:str}/rotate-secret", status_code=200)
    async def rotate_secret(
        self,
        webhook_id: WebhookId,
        session: DbSession,
        clock: ClockDep,
        principal: Caller,
        data: JSONBody[SecretRotation | None] = None,
    ) -> WebhookWithSecret:
        """A new signing secret, shown this once. The previous one keeps signing
        beside it for ``keep_previous_hours`` (24 by default; 0: stops at once),
        each delivery carrying both signatures meanwhile. Only a role that may
        subscribe to every event of the subscription may."""
        rotation = data or SecretRotation()
        sub = await service.get(session, decode(Kind.WEBHOOK, webhook_id))
        secret = await service.rotate_secret(
            session,
            sub,
            role=principal.role,
            keep_previous=timedelta(hours=rotation.keep_previous_hours),
            now=clock(),
        )
        read = service.webhook_read(sub, clock())
        await audit.record(
            session, principal, "webhook.rotate_secret", read.id, now=clock(), details=rotation
        )
        return _with_secret(read, secret)

    @get("/{webhook_id:str}/deliveries")
    async def list_deliveries(
        self,
        webhook_id: WebhookId,
        session: DbSession,
        event_id: Annotated[str | None, QueryParameter(max_length=64)] = None,
        cursor: PageCursor = None,
        limit: PageLimit = DEFAULT_LIMIT,
    ) -> AttemptPage:
        """Every delivery attempt, oldest first (of one event with ``event_id``):
        status code, latency, the start of the answer, the error."""
        sub = await service.get(session, decode(Kind.WEBHOOK, webhook_id))
        rows = await service.list_attempts(
            session,
            sub.id,
            event_id=optional(Kind.EVENT, event_id),
            after_id=decode_cursor(cursor),
            limit=limit,
        )
        return AttemptPage(
            items=[read for _, read in rows],
            next_cursor=next_cursor([attempt_id for attempt_id, _ in rows], limit),
        )

    @post("/{webhook_id:str}/redeliver", status_code=202)
    async def redeliver(
        self,
        webhook_id: WebhookId,
        data: JSONBody[Redelivery],
        session: DbSession,
        clock: ClockDep,
        principal: Caller,
        state: State,
    ) -> Response[RedeliveryQueued]:
        """Deliver again one event (``event_id``) or every event the subscription
        wants from ``from`` to ``to``: a new delivery each, with the event's own
        ``webhook-id``. Only a role that may subscribe to every event of the
        subscription may."""
        sub = await service.get(session, decode(Kind.WEBHOOK, webhook_id))
        count = await service.redeliver(session, sub, data, role=principal.role, now=clock())
        await audit.record(
            session,
            principal,
            "webhook.redeliver",
            encode(Kind.WEBHOOK, sub.id),
            now=clock(),
            details=data,
        )
        jobs: AppJobs = state.jobs
        return Response(
            RedeliveryQueued(deliveries=count),
            status_code=202,
            background=BackgroundTask(jobs.queued),
        )
