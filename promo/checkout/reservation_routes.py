"""Reservation routes: hold a discount, confirm it as the redemption, release it, read it."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import State
from litestar.openapi import ResponseSpec
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from promo.auth.guards import allow, provide_principal
from promo.auth.roles import Role
from promo.checkout import redemption, reservations, screening
from promo.checkout.idempotency import answer_key, respond
from promo.checkout.reservations import code_of, reservation_read
from promo.checkout.schemas import (
    ConfirmRequest,
    RedemptionRead,
    ReservationPage,
    ReservationRead,
    ReservationStatus,
    ReserveRequest,
)
from promo.checkout.throttle import Throttle
from promo.checkout.validation import identity_of
from promo.deps import (
    ClockDep,
    DbSession,
    IdempotencyKey,
    PageCursor,
    PageLimit,
    provide_clock,
)
from promo.ids import Kind, decode, require
from promo.schemas import DEFAULT_LIMIT, decode_cursor, next_cursor


def _checkout(state: State) -> redemption.Checkout:
    return redemption.Checkout(
        reads=state.reads, writes=state.writes, uniform=state.settings.uniform_refusals
    )


class ReservationController(Controller):
    path = "/v1/reservations"
    tags = ["checkout"]

    @post(
        "/",
        guards=[allow(Role.CHECKOUT)],
        responses={201: ResponseSpec(ReservationRead, description="Held", generate_examples=False)},
        status_code=201,
    )
    async def reserve(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[ReserveRequest],
        state: State,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[bytes]:
        """Validate a code and hold its discount for ``ttl_seconds`` (900 unless
        given, at most 86400): every limit and the budget are consumed until it is
        confirmed, released or expired. 409 with the reason as ``code`` when it does
        not apply (``code_reserved``, with ``expires_at``, when the code's last use
        is held)."""
        principal, clock = provide_principal(request), provide_clock(state)
        key = answer_key(idempotency_key, "reserve", principal, data)
        throttle: Throttle = state.throttle
        identity = identity_of(data, state.keyring)
        attempt = await throttle.begin(screening.identities(principal, data, identity))
        answer = await reservations.reserve(
            _checkout(state), data, identity, key, attempt, now=clock()
        )
        return respond(answer)

    @post(
        "/{reservation_id:str}/confirm",
        guards=[allow(Role.CHECKOUT)],
        responses={
            201: ResponseSpec(RedemptionRead, description="Redeemed", generate_examples=False)
        },
        status_code=201,
    )
    async def confirm(
        self,
        request: Request[Any, Any, Any],
        reservation_id: FromPath[str],
        data: JSONBody[ConfirmRequest],
        state: State,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[bytes]:
        """Turn a held reservation into the redemption of ``order_id``: the answer of
        ``POST /v1/redemptions``; nothing more is consumed. Confirming it again for
        the same order gives the same redemption. 409 ``reservation_expired``,
        ``reservation_released``, ``reservation_confirmed`` (for another order) or
        ``order_already_redeemed`` (the reservation stays held)."""
        principal, clock = provide_principal(request), provide_clock(state)
        key = answer_key(idempotency_key, f"confirm:{reservation_id}", principal, data)
        answer = await reservations.confirm(
            _checkout(state),
            require(Kind.RESERVATION, reservation_id),
            data.order_id,
            key,
            now=clock(),
        )
        return respond(answer)

    @post("/{reservation_id:str}/release", guards=[allow(Role.CHECKOUT)], status_code=200)
    async def release(
        self, reservation_id: FromPath[str], session: DbSession, clock: ClockDep
    ) -> ReservationRead:
        """Give back everything the reservation holds. Idempotent by itself (no
        Idempotency-Key): a released or expired reservation is answered as it is;
        409 ``reservation_confirmed`` once it became a redemption."""
        found = await reservations.release(
            session, require(Kind.RESERVATION, reservation_id), now=clock()
        )
        return reservation_read(found, code_of(found))

    @get("/", guards=[allow(Role.CHECKOUT, Role.MARKETER)])
    async def list_reservations(
        self,
        session: DbSession,
        campaign_id: Annotated[str | None, QueryParameter(max_length=64)] = None,
        status: FromQuery[ReservationStatus | None] = None,
        cursor: PageCursor = None,
        limit: PageLimit = DEFAULT_LIMIT,
    ) -> ReservationPage:
        """Reservations in id order: a campaign's (``campaign_id``), those in one
        ``status`` (``held``: what holds uses and budget now)."""
        rows = await reservations.list_reservations(
            session,
            # An id that is not a campaign's matches nothing (0 is never an id).
            campaign_id=(decode(Kind.CAMPAIGN, campaign_id) or 0) if campaign_id else None,
            status=status,
            after_id=decode_cursor(cursor),
            limit=limit,
        )
        return ReservationPage(
            items=[reservation_read(row, code_of(row)) for row in rows],
            next_cursor=next_cursor([row.id for row in rows], limit),
        )

    @get("/{reservation_id:str}", guards=[allow(Role.CHECKOUT)])
    async def get_reservation(
        self, reservation_id: FromPath[str], session: DbSession
    ) -> ReservationRead:
        found = await reservations.get_reservation(
            session, require(Kind.RESERVATION, reservation_id)
        )
        return reservation_read(found, code_of(found))
