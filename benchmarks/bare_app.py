"""The "bare Litestar" ceiling: the least a Python endpoint can do for the same request.

Same request bodies as promo (``CheckoutRequest`` / ``RedeemRequest``, msgspec),
same response Structs, same server (uvicorn, 2 workers, started by
``benchmarks/servers.py`` with `promo serve`'s options), an asyncpg pool of
``BENCH_POOL_SIZE`` connections (plus as many overflow, like promo's engine)
to ``BENCH_DATABASE_URL``. No authentication, middleware, throttle or
idempotency replay:

- ``POST /v1/validations``: one query (the code with its campaign, affiliate
  and the customer's usage), a percentage discount, the answer;
- ``POST /v1/redemptions``: the naive 8-statement transaction of
  ``benchmarks/pgbench/redeem.sql``, one round trip per statement;
- ``POST /nodb/validations``: decode and answer, no database at all.

Run by ``python -m benchmarks``; by hand:
``BENCH_DATABASE_URL=postgresql://... uvicorn benchmarks.bare_app:create_app --factory``.
"""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

import asyncpg
import msgspec
from litestar import Litestar, Response, get, post
from litestar.datastructures import State
from litestar.params import Parameter

from promo.checkout.schemas import (
    CheckoutRequest,
    DiscountOut,
    LineOut,
    RedeemRequest,
    RedemptionRead,
    ValidationResult,
)
from promo.codes.canonical import InvalidCode, canonical
from promo.money import percent_of
from promo.pii import DEV_PII_KEY, Keyring


def _ref(customer_id: str | None) -> str:
    """The customer's keyed hash, as promo stores it (promo.pii)."""
    return BARE_KEY.ref("id", customer_id or "")


BARE_KEY = Keyring.parse(DEV_PII_KEY).current
LOOKUP = """
SELECT c.id, c.campaign_id, c.code, c.active, c.max_redemptions AS code_max, c.used,
       c.affiliate_id, a.active AS affiliate_active, k.status, k.currency, k.starts_at,
       k.ends_at, k.percent_off, k.max_discount, k.rules, k.max_redemptions,
       k.redemptions_used, k.max_redemptions_per_customer, k.budget, k.budget_used,
       (SELECT u.used FROM customer_usage u
         WHERE u.campaign_id = k.id AND u.customer_ref = $2) AS used_on_campaign
  FROM codes c JOIN campaigns k ON k.id = c.campaign_id
       LEFT JOIN affiliates a ON a.id = c.affiliate_id
 WHERE c.canonical = $1 AND c.live
"""
CLAIM_KEY = """
INSERT INTO idempotency_keys (scope, key, request_hash, created_at)
VALUES ('bare:redeem', $1, $2, now()) ON CONFLICT (scope, key) DO NOTHING RETURNING id
"""
CONSUME_CAMPAIGN = """
UPDATE campaigns SET redemptions_used = redemptions_used + 1, budget_used = budget_used + $2
 WHERE id = $1 AND status = 'active'
   AND (max_redemptions IS NULL OR redemptions_used < max_redemptions)
   AND (budget IS NULL OR budget_used + $2 <= budget)
RETURNING id
"""
CONSUME_CODE = """
UPDATE codes SET used = used + 1
 WHERE id = $1 AND active AND live AND (max_redemptions IS NULL OR used < max_redemptions)
RETURNING id
"""
CONSUME_CUSTOMER = """
INSERT INTO customer_usage (campaign_id, customer_ref, used) VALUES ($1, $2, 1)
ON CONFLICT (campaign_id, customer_ref) DO UPDATE SET used = customer_usage.used + 1
 WHERE customer_usage.used < $3
RETURNING used
"""
INSERT_REDEMPTION = """
INSERT INTO redemptions (code_id, campaign_id, affiliate_id, customer_ref, order_id,
    currency, order_amount, discount_total, discount_shipping, discount_lines, commission,
    commission_fixed, refunded_amount, budget_returned, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, $9, 0, 0, 0, 0, $10)
ON CONFLICT (order_id) WHERE rolled_back_at IS NULL DO NOTHING
RETURNING id
"""
INSERT_LEDGER = """
INSERT INTO ledger_entries (created_at, kind, redemption_id, order_id, code, campaign_id,
    affiliate_id, currency, order_amount, discount, commission, available_at)
VALUES ($1, 'redemption', $2, $3, $4, $5, $6, $7, $8, $9, 0, $1)
"""


# What the no-database endpoint pretends to have read.
NO_DATABASE_ROW = {"percent_off": Decimal(10), "max_discount": 5000}


class Refused(Exception):
    """Roll the transaction back and answer 409 with this code."""


def _offer(data: CheckoutRequest, row: Any) -> tuple[int, int, DiscountOut]:
    """(eligible subtotal, discount total, discount) for a percentage campaign."""
    subtotal = sum(item.quantity * item.unit_price for item in data.cart.items)
    total = percent_of(subtotal, row["percent_off"])
    if row["max_discount"] is not None:
        total = min(total, row["max_discount"])
    line = LineOut(
        line_id=data.cart.items[0].line_id or "0", sku=data.cart.items[0].sku, amount=total
    )
    return subtotal, total, DiscountOut(total=total, shipping=0, lines=[line])


def _canonical(code: str) -> str | None:
    try:
        return canonical(code)
    except InvalidCode:
        return None


@get("/health")
async def health() -> str:
    return "ok"


@post("/nodb/validations", status_code=200)
async def validate_nodb(data: CheckoutRequest) -> ValidationResult:
    _, _, discount = _offer(data, NO_DATABASE_ROW)
    return ValidationResult(
        valid=True, code=data.code, campaign_id="0", reason=None, discount=discount
    )


@post("/v1/validations", status_code=200)
async def validate(data: CheckoutRequest, state: State) -> ValidationResult:
    key = _ref(data.customer_id)
    async with state.pool.acquire() as connection:
        row = await connection.fetchrow(LOOKUP, _canonical(data.code), key)
    if row is None:
        return ValidationResult(valid=False, code=None, campaign_id=None, reason="code_not_found")
    _, _, discount = _offer(data, row)
    return ValidationResult(
        valid=True,
        code=row["code"],
        campaign_id=str(row["campaign_id"]),
        reason=None,
        discount=discount,
    )


@post("/v1/redemptions", status_code=201)
async def redeem(
    data: RedeemRequest,
    state: State,
    idempotency_key: Annotated[str, Parameter(header="Idempotency-Key")],
) -> Response[Any]:
    now = datetime.now(UTC)
    fingerprint = hashlib.sha256(msgspec.json.encode(data)).hexdigest()
    customer = _ref(data.customer_id)
    try:
        async with state.pool.acquire() as connection, connection.transaction():
            if await connection.fetchval(CLAIM_KEY, idempotency_key, fingerprint) is None:
                raise Refused("request_in_progress")
            row = await connection.fetchrow(LOOKUP, _canonical(data.code), customer)
            if row is None:
                raise Refused("code_not_found")
            subtotal, total, discount = _offer(data, row)
            campaign_id, code_id = row["campaign_id"], row["id"]
            if await connection.fetchval(CONSUME_CAMPAIGN, campaign_id, total) is None:
                raise Refused("campaign_exhausted")
            if await connection.fetchval(CONSUME_CODE, code_id) is None:
                raise Refused("code_exhausted")
            limit = row["max_redemptions_per_customer"]
            if await connection.fetchval(CONSUME_CUSTOMER, campaign_id, customer, limit) is None:
                raise Refused("customer_limit_reached")
            order_amount = subtotal - total
            redemption_id = await connection.fetchval(
                INSERT_REDEMPTION,
                code_id,
                campaign_id,
                row["affiliate_id"],
                customer,
                data.order_id,
                row["currency"],
                order_amount,
                total,
                msgspec.json.encode(discount.lines).decode(),
                now,
            )
            if redemption_id is None:
                raise Refused("order_already_redeemed")
            for amount in (total, 0):
                await connection.execute(
                    INSERT_LEDGER,
                    now,
                    redemption_id,
                    data.order_id,
                    row["code"],
                    campaign_id,
                    row["affiliate_id"],
                    row["currency"],
                    order_amount,
                    amount,
                )
    except Refused as refused:
        return Response({"code": str(refused)}, status_code=409)
    body = RedemptionRead(
        id=str(redemption_id),
        code=row["code"],
        campaign_id=str(campaign_id),
        affiliate_id=None,
        customer_ref=customer,
        order_id=data.order_id,
        currency=row["currency"],
        order_amount=order_amount,
        discount=discount,
        commission=0,
        refunded_amount=0,
        status="active",
        created_at=now,
        rolled_back_at=None,
    )
    return Response(body, status_code=201)


def create_app() -> Litestar:
    size = int(os.environ.get("BENCH_POOL_SIZE", "10"))

    async def open_pool(app: Litestar) -> None:
        app.state.pool = await asyncpg.create_pool(
            os.environ["BENCH_DATABASE_URL"], min_size=size, max_size=2 * size
        )

    async def close_pool(app: Litestar) -> None:
        await app.state.pool.close()

    return Litestar(
        route_handlers=[health, validate_nodb, validate, redeem],
        on_startup=[open_pool],
        on_shutdown=[close_pool],
        openapi_config=None,
        logging_config=None,
        debug=False,
    )
