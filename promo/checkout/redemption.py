"""Redeem: validate again, then consume every limit, record, and answer, all or nothing.

One path on every database. The offer is read and decided (pure rules,
promo.checkout.eligibility); a refusal there is answered and stored under
the Idempotency-Key on its own. An accepted redemption runs the consuming
steps of promo.checkout.steps with the answer as their last step: on
PostgreSQL as one autocommitted statement, on SQLite one statement at a
time in a ``BEGIN IMMEDIATE`` transaction. A step that gives nothing (a
limit reached, an order or a key taken meanwhile) leaves nothing behind; the
step it stopped at is classified once (``steps.refusal_at``) and that refusal
is answered and stored like any other.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import msgspec

from promo.checkout import idempotency, screening, steps
from promo.checkout.eligibility import Accepted, Offer, Refused, Shopper
from promo.checkout.idempotency import Answer, AnswerKey
from promo.checkout.models import Redemption
from promo.checkout.reasons import MESSAGES, Reason
from promo.checkout.schemas import CheckoutRequest, RedeemRequest
from promo.checkout.throttle import Attempt
from promo.checkout.validation import validate
from promo.checkout.views import redemption_read
from promo.db.autocommit import Autocommit, Transactional
from promo.errors import Conflict, render_domain_error
from promo.identity import Identity
from promo.ids import Kind, encode
from promo.plans.pricing import NOTHING, NetLine, Plan, Pricing, period_of, price

# The answer's body starts with its id (the first field of RedemptionRead).
ID_OPENING = b'{"id":"'


def refusal(reason: Reason, details: dict[str, Any] | None = None) -> Conflict:
    """A redemption refused for a checkout reason: 409 whose code is the reason."""
    return Conflict(
        reason.value, MESSAGES[reason], extra={"reason": reason.value, **(details or {})}
    )


def priced(offer: Offer, decision: Accepted) -> Pricing:
    """The commission of the sale ``decision`` grants, under the offer's plan, on
    the eligible lines after their discount."""
    taken = {line.line_id: line.amount for line in decision.discount.lines}
    lines = [
        NetLine(
            line_id=line.line_id,
            net=line.total - taken.get(line.line_id, 0),
            categories=line.categories,
        )
        for line in decision.eligible
    ]
    return price(offer.plan, lines, offer.standing)


def granted(
    request: CheckoutRequest, offer: Offer, shopper: Shopper, decision: Accepted, *, now: datetime
) -> Redemption:
    """The redemption ``decision`` grants, not yet written (no id; a hold's has
    no order yet either, promo.checkout.reservations)."""
    campaign, code = offer.campaign, offer.code
    discount = decision.discount
    items_discount = discount.total - discount.shipping
    order_amount = decision.eligible_subtotal - items_discount
    pricing = priced(offer, decision) if code.affiliate_id is not None else NOTHING
    plan = offer.plan if code.affiliate_id is not None else Plan()
    counted = plan.plan_id is not None and plan.counts_periods
    return Redemption(
        id=0,
        code_id=code.id,
        campaign_id=campaign.id,
        affiliate_id=code.affiliate_id,
        customer_ref=shopper.identity.primary,
        customer_alt_ref=shopper.identity.secondary,
        order_id=request.order_id if isinstance(request, RedeemRequest) else "",
        currency=campaign.currency,
        order_amount=order_amount,
        discount_total=discount.total,
        discount_shipping=discount.shipping,
        discount_lines=msgspec.to_builtins(discount.lines),
        commission=pricing.total,
        commission_fixed=pricing.fixed,
        commission_plan_id=plan.plan_id,
        commission_plan_revision=plan.revision,
        commission_rate=pricing.percent,
        commission_tier=pricing.tier,
        commission_period=period_of(now, plan.timezone).key if counted else None,
        commission_lines=msgspec.to_builtins(pricing.lines),
        refunded_amount=0,
        budget_returned=0,
        created_at=now,
        rolled_back_at=None,
    )


def limit_parameters(red: Redemption, offer: Offer, identity: Identity) -> dict[str, Any]:
    """The parameters of the limits' steps (``steps.LIMITS``): what ``red`` takes
    from its campaign, code and shopper, under the offer's limits."""
    return {
        "campaign_id": red.campaign_id,
        "code_id": red.code_id,
        "discount": red.discount_total,
        "customer_ref": red.customer_ref,
        "customer_alt_ref": red.customer_alt_ref,
        "customer_ref_prior": list(identity.primary_prior),
        "customer_alt_ref_prior": list(identity.secondary_prior),
        "per_customer": offer.campaign.max_redemptions_per_customer,
        "first_order_only": offer.campaign.first_order_only,
    }


def record_parameters(
    red: Redemption, *, code: str, plan_timezone: str, holding_days: int
) -> dict[str, Any]:
    """The parameters of the steps that write ``red`` and record it (its row,
    ``steps.RECORDS``): the redemption as granted, its code as displayed, the
    timezone of its plan's periods and its commission's holding period."""
    period = period_of(red.created_at, plan_timezone) if red.commission_period is not None else None
    return {
        "campaign_id": red.campaign_id,
        "code_id": red.code_id,
        "code": code,
        "affiliate_id": red.affiliate_id,
        "customer_ref": red.customer_ref,
        "customer_alt_ref": red.customer_alt_ref,
        "order_id": red.order_id,
        "currency": red.currency,
        "order_amount": red.order_amount,
        "discount": red.discount_total,
        "discount_shipping": red.discount_shipping,
        "discount_lines": red.discount_lines,
        "commission": red.commission,
        "commission_fixed": red.commission_fixed,
        "plan_id": red.commission_plan_id,
        "plan_revision": red.commission_plan_revision,
        "rate": red.commission_rate,
        "tier": red.commission_tier,
        "period": red.commission_period,
        "period_starts_at": period.starts_at if period else None,
        "period_ends_at": period.ends_at if period else None,
        "commission_lines": red.commission_lines,
        "now": red.created_at,
        "available_at": red.created_at + timedelta(days=holding_days),
    }


def answer_parameters(key: AnswerKey, head: bytes, tail: bytes) -> dict[str, Any]:
    """The parameters of the ``answer`` step: where it is stored, its body around the id."""
    return {
        "scope": key.scope,
        "idempotency_key": key.key,
        "request_hash": key.fingerprint,
        "answer_head": head,
        "answer_tail": tail,
    }


def step_parameters(
    red: Redemption, offer: Offer, identity: Identity, key: AnswerKey, head: bytes, tail: bytes
) -> dict[str, Any]:
    """The parameters of the steps: the redemption as granted, its offer, the
    shopper's refs under retired keys, its answer."""
    return {
        **record_parameters(
            red,
            code=offer.code.display,
            plan_timezone=offer.plan.timezone,
            holding_days=offer.holding_days,
        ),
        **limit_parameters(red, offer, identity),
        **answer_parameters(key, head, tail),
    }


def around_id(read: msgspec.Struct) -> tuple[bytes, bytes]:
    """An answer's body before and after its id (its first field, rendered
    empty in ``read``), which the database writes in."""
    body = msgspec.json.encode(read)
    if not body.startswith(ID_OPENING + b'"'):
        raise AssertionError("an answer must open with its id")
    return ID_OPENING, body[len(ID_OPENING) :]


def answer_around_id(red: Redemption, code: str) -> tuple[bytes, bytes]:
    """The redemption's answer before and after its id."""
    return around_id(msgspec.structs.replace(redemption_read(red, code), id=""))


class Checkout(msgspec.Struct, frozen=True):
    """How this service answers: its connections and its policy."""

    reads: Autocommit
    writes: Transactional
    uniform: bool  # uniform refusals (promo.checkout.screening)


async def redeem(
    checkout: Checkout,
    request: RedeemRequest,
    identity: Identity,
    key: AnswerKey,
    attempt: Attempt,
    *,
    now: datetime,
) -> Answer:
    """Redeem ``request`` once under ``key``: 201 with the redemption, 409 with
    the reason, or the first answer given under ``key``, replayed."""
    offer, shopper, decision = await validate(
        checkout.reads,
        request,
        identity,
        now=now,
        usage_first=checkout.uniform,
        order_id=request.order_id,
        consuming=True,
    )
    if isinstance(decision, Refused):
        return await refuse(checkout, key, attempt, decision.reason, decision.details, now)
    assert offer is not None  # noqa: S101 (an Accepted decision always has an offer)
    # A success is answered only if the caller is within its budgets (429 stores nothing).
    await attempt.succeeded()
    red = granted(request, offer, shopper, decision, now=now)
    head, tail = answer_around_id(red, offer.code.display)
    params = step_parameters(red, offer, identity, key, head, tail)

    def body(redemption_id: int) -> bytes:
        return head + encode(Kind.REDEMPTION, redemption_id).encode() + tail

    if red.commission_period is not None and not offer.standing.counted:
        await steps.open_period(checkout.writes, params)
    result = await steps.run(checkout.writes, params, body)
    if isinstance(result, steps.Stopped):
        if result.step == "answer":
            return await idempotency.replay(checkout.reads, key)
        refused = await steps.refusal_at(checkout.reads, result, params)
        return await refuse(checkout, key, attempt, refused.reason, refused.details, now)
    return Answer(201, body(result))


async def refuse(
    checkout: Checkout,
    key: AnswerKey,
    attempt: Attempt,
    reason: Reason,
    details: dict[str, Any] | None,
    now: datetime,
    *,
    operation: str = "redeem",
) -> Answer:
    """Count the refusal in the budgets (429, storing nothing, when over one),
    then answer it and store it under the key, unless a first answer is there."""
    await screening.settle_refusal(attempt, operation, reason, checkout.uniform)
    status, body = render_domain_error(
        screening.conceal(refusal(reason, details), checkout.uniform)
    )
    return await idempotency.store_or_replay(checkout.writes, key, status, body, now=now)
