"""Checkout routes: validations (read-only), redemptions, rollbacks and refunds."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import State
from litestar.openapi import ResponseSpec
from litestar.params import FromPath, JSONBody, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from promo.auth.guards import allow, provide_principal
from promo.auth.roles import Principal, Role
from promo.checkout import idempotency, redemption, refunds, screening
from promo.checkout.eligibility import Accepted
from promo.checkout.idempotency import answer_key, respond
from promo.checkout.listing import code_text, get_redemption, list_redemptions
from promo.checkout.models import Redemption
from promo.checkout.qualifications import qualifications
from promo.checkout.reasons import UNIFORM_MESSAGE, UNIFORM_REASON
from promo.checkout.schemas import (
    AffiliateRedemption,
    AffiliateRedemptionPage,
    CheckoutRequest,
    CustomerEmailQuery,
    CustomerIdQuery,
    CustomerRefQuery,
    QualificationRequest,
    QualificationResult,
    QualifiedCode,
    RedeemRequest,
    RedemptionPage,
    RedemptionRead,
    RollbackRequest,
    ValidationResult,
)
from promo.checkout.throttle import Throttle
from promo.checkout.validation import cart_of, identity_of, identity_or_invalid, validate
from promo.checkout.views import discount_out, redemption_read, status_of
from promo.codes.canonical import InvalidCode, canonical
from promo.deps import (
    Caller,
    ClockDep,
    DbSession,
    IdempotencyKey,
    KeyringDep,
    PageCursor,
    PageLimit,
    provide_clock,
)
from promo.errors import Invalid, NotFound
from promo.ids import Kind, decode, encode, require
from promo.reports.counting import ValidationCounter
from promo.schemas import DEFAULT_LIMIT, NO_NUL, decode_cursor, next_cursor


@post("/v1/validations", status_code=200, tags=["checkout"], guards=[allow(Role.CHECKOUT)])
async def create_validation(
    request: Request[Any, Any, Any], data: JSONBody[CheckoutRequest], state: State
) -> ValidationResult:
    """Validate a code against a cart. Read-only: 200 for every well-formed request,
    with the discount per line, or the first reason (in the documented order) why not.
    Too many failed guesses: 429 with Retry-After."""
    # Not injected: two dependencies cost Litestar a task group per request.
    principal, clock = provide_principal(request), provide_clock(state)
    throttle: Throttle = state.throttle
    identity = identity_of(data, state.keyring)
    attempt = await throttle.begin(screening.identities(principal, data, identity))
    uniform = state.settings.uniform_refusals
    now = clock()
    offer, _, decision = await validate(state.reads, data, identity, now=now, usage_first=uniform)
    if offer is not None:
        # In memory only; flushed to the reports' roll-ups in the background.
        counts: ValidationCounter = state.validation_counts
        counts.count(
            code_id=offer.code.id,
            campaign_id=offer.campaign.id,
            affiliate_id=offer.code.affiliate_id,
            currency=offer.campaign.currency,
            valid=isinstance(decision, Accepted),
            now=now,
        )
    code = offer.code.display if offer else None
    campaign_id = encode(Kind.CAMPAIGN, offer.campaign.id) if offer else None
    if isinstance(decision, Accepted):
        await attempt.succeeded()
        return ValidationResult(
            valid=True,
            code=code,
            campaign_id=campaign_id,
            reason=None,
            discount=discount_out(decision.discount),
        )
    reason = decision.reason.value
    await screening.settle_refusal(attempt, "validate", reason, uniform)
    if screening.concealed(reason, uniform):
        return ValidationResult(
            valid=False,
            code=None,
            campaign_id=None,
            reason=UNIFORM_REASON,
            message=UNIFORM_MESSAGE,
        )
    return ValidationResult(
        valid=False,
        code=code,
        campaign_id=campaign_id,
        reason=reason,
        message=decision.message,
        details=decision.details,
    )


@post("/v1/qualifications", status_code=200, tags=["checkout"], guards=[allow(Role.CHECKOUT)])
async def create_qualification(
    data: JSONBody[QualificationRequest], state: State, session: DbSession, clock: ClockDep
) -> QualificationResult:
    """The customer's own codes (bound to it: rewards, apologies, referral
    rewards) that would apply to this cart, best value first, each with its
    discount per line as a validation gives it. Consumes nothing. Needs the
    customer: ``customer_id`` or ``customer_email`` (422 otherwise)."""
    if data.customer_id is None and data.customer_email is None:
        raise Invalid.field("customer_id", "give the customer's id or e-mail")
    identity = identity_or_invalid(state.keyring, data.customer_id, data.customer_email)
    found = await qualifications(
        session,
        state.reads,
        cart_of(data.cart),
        identity,
        first_order=data.first_order,
        now=clock(),
    )
    return QualificationResult(
        codes=[
            QualifiedCode(
                code=offer.code.display,
                campaign_id=encode(Kind.CAMPAIGN, offer.campaign.id),
                discount=discount_out(decision.discount),
            )
            for offer, decision in found
        ]
    )


async def _read(session: AsyncSession, red: Redemption) -> RedemptionRead:
    return redemption_read(red, await code_text(session, red.code_id))


class RedemptionController(Controller):
    path = "/v1/redemptions"
    tags = ["checkout"]

    @post(
        "/",
        guards=[allow(Role.CHECKOUT)],
        responses={
            201: ResponseSpec(RedemptionRead, description="Redeemed", generate_examples=False)
        },
        status_code=201,
    )
    async def redeem(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[RedeemRequest],
        state: State,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[bytes]:
        """Redeem a code for an order: re-validates, then consumes every limit and the
        budget atomically. 409 with the reason as ``code`` when it does not apply."""
        # Not injected: two dependencies cost Litestar a task group per request.
        principal, clock = provide_principal(request), provide_clock(state)
        key = answer_key(idempotency_key, "redeem", principal, data)
        throttle: Throttle = state.throttle
        identity = identity_of(data, state.keyring)
        attempt = await throttle.begin(screening.identities(principal, data, identity))
        checkout = redemption.Checkout(
            reads=state.reads, writes=state.writes, uniform=state.settings.uniform_refusals
        )
        return respond(await redemption.redeem(checkout, data, identity, key, attempt, now=clock()))

    @post(
        "/{redemption_id:str}/rollback",
        guards=[allow(Role.CHECKOUT)],
        responses={
            200: ResponseSpec(
                RedemptionRead, description="Rolled back or refunded", generate_examples=False
            )
        },
        status_code=200,
    )
    async def rollback(
        self,
        redemption_id: FromPath[str],
        data: JSONBody[RollbackRequest],
        session: DbSession,
        clock: ClockDep,
        principal: Caller,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[bytes]:
        """Full rollback (``amount`` null) gives every counter and the budget back and
        reverses the commission; a partial refund returns the budget's share and
        shrinks the percentage commission by the same share."""
        key = answer_key(idempotency_key, f"rollback:{redemption_id}", principal, data)

        async def work() -> tuple[int, RedemptionRead]:
            red = await refunds.rollback(
                session,
                require(Kind.REDEMPTION, redemption_id),
                amount=data.amount,
                note=data.reason,
                now=clock(),
            )
            return 200, await _read(session, red)

        return respond(await idempotency.run_once(session, key, now=clock(), work=work))

    @get("/", guards=[allow(Role.CHECKOUT, Role.ACCOUNTANT)])
    async def list_redemptions(
        self,
        session: DbSession,
        keyring: KeyringDep,
        order_id: Annotated[str | None, QueryParameter(max_length=128, pattern=NO_NUL)] = None,
        code: Annotated[str | None, QueryParameter(max_length=64)] = None,
        customer_ref: CustomerRefQuery = None,
        customer_id: CustomerIdQuery = None,
        customer_email: CustomerEmailQuery = None,
        campaign_id: Annotated[str | None, QueryParameter(max_length=64)] = None,
        cursor: PageCursor = None,
        limit: PageLimit = DEFAULT_LIMIT,
    ) -> RedemptionPage:
        """Redemptions in id order. A customer's: by ``customer_ref`` as answered, or
        by the identity the checkout knows (``customer_id``, ``customer_email``), which
        promo hashes as it stores it (an id or e-mail is never stored)."""
        refs: tuple[str, ...] | None = None
        if customer_id is not None or customer_email is not None:
            refs = identity_or_invalid(keyring, customer_id, customer_email).refs
        if customer_ref is not None:
            refs = (customer_ref,) if refs is None else tuple(r for r in refs if r == customer_ref)
        canonical_code = None
        if code is not None:
            try:
                canonical_code = canonical(code)
            except InvalidCode:
                canonical_code = "-"  # matches nothing
        rows = await list_redemptions(
            session,
            order_id=order_id,
            canonical_code=canonical_code,
            customer_refs=refs,
            # An id that is not a campaign's matches no redemption (0 is never an id).
            campaign_id=(decode(Kind.CAMPAIGN, campaign_id) or 0) if campaign_id else None,
            after_id=decode_cursor(cursor),
            limit=limit,
        )
        return RedemptionPage(
            items=[redemption_read(red, text) for red, text in rows],
            next_cursor=next_cursor([red.id for red, _ in rows], limit),
        )

    @get("/{redemption_id:str}", guards=[allow(Role.CHECKOUT, Role.ACCOUNTANT)])
    async def get_redemption(
        self, redemption_id: FromPath[str], session: DbSession
    ) -> RedemptionRead:
        red = await get_redemption(session, require(Kind.REDEMPTION, redemption_id))
        return await _read(session, red)


@get("/v1/me/redemptions", tags=["affiliates"], guards=[allow(Role.AFFILIATE)])
async def my_redemptions(
    session: DbSession,
    principal: Caller,
    cursor: PageCursor = None,
    limit: PageLimit = DEFAULT_LIMIT,
) -> AffiliateRedemptionPage:
    """The sales the calling affiliate brought, without customer personal data."""
    return await my_sales(session, principal, cursor=cursor, limit=limit)


async def my_sales(
    session: AsyncSession, principal: Principal, *, cursor: str | None, limit: int
) -> AffiliateRedemptionPage:
    """One page of the calling affiliate's sales, without customer personal data:
    GET /v1/me/redemptions and the console's sales page."""
    if principal.affiliate_id is None:
        raise NotFound("affiliate_not_found", "This key is not bound to an affiliate")
    rows = await list_redemptions(
        session,
        order_id=None,
        canonical_code=None,
        customer_refs=None,
        campaign_id=None,
        affiliate_id=principal.affiliate_id,
        after_id=decode_cursor(cursor),
        limit=limit,
    )
    return AffiliateRedemptionPage(
        items=[
            AffiliateRedemption(
                id=encode(Kind.REDEMPTION, red.id),
                code=code,
                campaign_id=encode(Kind.CAMPAIGN, red.campaign_id),
                order_id=red.order_id,
                currency=red.currency,
                order_amount=red.order_amount,
                discount_total=red.discount_total,
                commission=red.commission,
                refunded_amount=red.refunded_amount,
                status=status_of(red),  # type: ignore[arg-type]
                created_at=red.created_at,
            )
            for red, code in rows
        ],
        next_cursor=next_cursor([red.id for red, _ in rows], limit),
    )
