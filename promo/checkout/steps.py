"""The consuming steps of a redemption, each defined once, and their inverse.

A redemption is these steps, in this order (which is also the lock order):

1. ``redemption``: the row, one per live order (the partial unique index judges);
2. ``campaign``: one redemption and the discount taken from its count and budget;
3. ``code``: one use of the code;
4. ``customer``, ``customer_alt``: one use for each identity of the shopper
   (id and e-mail both count, promo.identity), within the per-customer limit,
   counted under its current ref plus its refs under retired keys (what it
   did before a key rotation, promo.pii: those rows are only ever given back);
5. ``first_order``, ``first_order_alt``: one live order for each identity,
   which on a ``first_order_only`` campaign must be the first under any of
   its refs;
   ``period``: the sale in its affiliate's figures for the period, under the
   commission plan that priced it (plans with tiers or a bonus only);
6. ``ledger``: the redemption's ledger entry;
7. ``event``: the event ``redemption.created`` (promo.events, the outbox of
   the webhooks), whose payload is the answer's body;
8. ``answer``: the answer stored under the request's Idempotency-Key.

Each condition is part of the step's own statement (``used < max``), never
checked first and written after, so limits stay exact under concurrency.
Every step is a SQLAlchemy Core statement built by one function from a
``Chain``: what "the steps before succeeded" and "the redemption's id" are.
Composed into one statement of data-modifying CTEs (PostgreSQL: each CTE
gated on the ones before, one round trip, autocommitted; a step that gives
nothing makes ``promo_abandon(step)`` raise, which undoes the whole
statement), or run one by one inside a transaction (SQLite, where
``BEGIN IMMEDIATE`` serialises writers): the same statements, the same stop
at the same step, so the same answers on both databases.

A reservation (promo.checkout.reservations) is the same steps split in two:
``HOLD`` writes the reservation instead of the redemption and consumes the
limits (steps 2 to 5) with its own answer; ``CONFIRM`` writes the
redemption, turns the reservation from held to confirmed (``confirm``: the
hold becomes the use, nothing more is consumed) and records the rest
(``period`` to ``answer``). Releasing or expiring one gives the limits back
with the rollback's inverse statements (``give_back``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    Boolean,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Table,
    and_,
    bindparam,
    case,
    exists,
    func,
    literal,
    not_,
    or_,
    select,
    text,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import ColumnElement
from sqlalchemy.sql.expression import BindParameter
from sqlalchemy.sql.visitors import InternalTraversal
from sqlalchemy.types import JSON, TypeEngine

from promo.campaigns.models import Campaign
from promo.checkout.eligibility import Refused, code_spent
from promo.checkout.models import (
    CustomerOrders,
    CustomerUsage,
    IdempotencyRecord,
    Redemption,
    Reservation,
)
from promo.checkout.offers import instant, reserved_until
from promo.checkout.reasons import Reason
from promo.codes.models import Code
from promo.db.autocommit import Autocommit, Transactional
from promo.db.dialect import prebuilt
from promo.db.lists import in_list
from promo.db.metadata import UtcDateTime
from promo.db.public_ids import public_id
from promo.events.models import Event
from promo.events.outbox import EventType, json_document
from promo.ids import Kind
from promo.ledger.models import LedgerEntry
from promo.plans.models import CommissionPeriod

campaigns = cast(Table, Campaign.__table__)
codes = cast(Table, Code.__table__)
usage = cast(Table, CustomerUsage.__table__)
orders = cast(Table, CustomerOrders.__table__)
redemptions = cast(Table, Redemption.__table__)
entries = cast(Table, LedgerEntry.__table__)
answers = cast(Table, IdempotencyRecord.__table__)
periods = cast(Table, CommissionPeriod.__table__)
events = cast(Table, Event.__table__)
reservations = cast(Table, Reservation.__table__)

# Raised by promo_abandon(step) (migrations): the statement stopped at ``step``,
# named in the error's DETAIL.
ABANDONED = "PR001"


class _Typed(ColumnElement[Any]):
    """A bound parameter that PostgreSQL is told the type of (``CAST``): in an
    ``INSERT ... SELECT`` it has no column to infer it from. Plain elsewhere."""

    inherit_cache = True
    # Part of the statement's cache key, so SQLAlchemy's compiled cache sees it.
    _traverse_internals = [("param", InternalTraversal.dp_clauseelement)]

    def __init__(self, param: BindParameter[Any]) -> None:
        self.param = param
        self.type = param.type


@compiles(_Typed)
def _plain(element: _Typed, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(element.param, **kw))


@compiles(_Typed, "postgresql")
def _cast(element: _Typed, compiler: Any, **kw: Any) -> str:
    sql_type = compiler.dialect.type_compiler_instance.process(element.param.type)
    return f"CAST({compiler.process(element.param, **kw)} AS {sql_type})"


# Parameters are bound as ``p_<name>``: SQLAlchemy would take a parameter named
# like a column of an UPDATE's table for a value to SET.
PREFIX = "p_"


def param(name: str, type_: TypeEngine[Any] | type[TypeEngine[Any]]) -> ColumnElement[Any]:
    return _Typed(bindparam(PREFIX + name, type_=type_))


def _bound(params: Mapping[str, Any]) -> dict[str, Any]:
    return {PREFIX + name: value for name, value in params.items()}


@dataclass(frozen=True)
class Chain:
    """How one step sees the ones before it."""

    gate: ColumnElement[bool]  # every step before succeeded
    # The id of the row the composition is about (the redemption's; in a
    # hold, the reservation's), once written.
    redemption_id: ColumnElement[Any]
    answer_body: ColumnElement[Any]  # the answer's body, with that id in it


def _redemption(chain: Chain, insert: Any) -> Any:
    columns = {
        "code_id": param("code_id", BigInteger),
        "campaign_id": param("campaign_id", BigInteger),
        "affiliate_id": param("affiliate_id", BigInteger),
        "customer_ref": param("customer_ref", String),
        "customer_alt_ref": param("customer_alt_ref", String),
        "order_id": param("order_id", String),
        "currency": param("currency", String),
        "order_amount": param("order_amount", BigInteger),
        "discount_total": param("discount", BigInteger),
        "discount_shipping": param("discount_shipping", BigInteger),
        "discount_lines": param("discount_lines", JSON),
        "commission": param("commission", BigInteger),
        "commission_fixed": param("commission_fixed", BigInteger),
        "commission_plan_id": param("plan_id", BigInteger),
        "commission_plan_revision": param("plan_revision", Integer),
        "commission_rate": param("rate", Numeric(5, 2)),
        "commission_tier": param("tier", Integer),
        "commission_period": param("period", String),
        "commission_lines": param("commission_lines", JSON),
        "refunded_amount": literal(0, BigInteger),
        "budget_returned": literal(0, BigInteger),
        "created_at": param("now", UtcDateTime),
    }
    return (
        insert(redemptions)
        .from_select(list(columns), select(*columns.values()).where(chain.gate))
        .on_conflict_do_nothing(
            index_elements=["order_id"], index_where=text("rolled_back_at IS NULL")
        )
        .returning(redemptions.c.id)
    )


def _reservation(chain: Chain, insert: Any) -> Any:
    """A hold's row, in place of the redemption's: what it grants, until when."""
    columns = {
        "code_id": param("code_id", BigInteger),
        "campaign_id": param("campaign_id", BigInteger),
        "affiliate_id": param("affiliate_id", BigInteger),
        "customer_ref": param("customer_ref", String),
        "customer_alt_ref": param("customer_alt_ref", String),
        "status": literal("held", String),
        "currency": param("currency", String),
        "discount_total": param("discount", BigInteger),
        "discount_shipping": param("discount_shipping", BigInteger),
        "discount_lines": param("discount_lines", JSON),
        "terms": param("terms", JSON),
        "created_at": param("now", UtcDateTime),
        "expires_at": param("expires_at", UtcDateTime),
    }
    return (
        insert(reservations)
        .from_select(list(columns), select(*columns.values()).where(chain.gate))
        .returning(reservations.c.id)
    )


def _confirm(chain: Chain, insert: Any) -> Any:
    """The held reservation becomes the redemption just written: once, and only
    while it is held and not yet expired (a release or the expiry that got
    there first leaves nothing to confirm)."""
    now = param("now", UtcDateTime)
    return (
        update(reservations)
        .where(
            reservations.c.id == param("reservation_id", BigInteger),
            reservations.c.status == "held",
            reservations.c.expires_at > now,
            chain.gate,
        )
        .values(
            status="confirmed",
            ended_at=now,
            order_id=param("order_id", String),
            redemption_id=select(chain.redemption_id).scalar_subquery(),
        )
        .returning(reservations.c.id)
    )


def _campaign(chain: Chain, insert: Any) -> Any:
    discount = param("discount", BigInteger)
    return (
        update(campaigns)
        .where(
            campaigns.c.id == param("campaign_id", BigInteger),
            campaigns.c.status == "active",
            or_(
                campaigns.c.max_redemptions.is_(None),
                campaigns.c.redemptions_used < campaigns.c.max_redemptions,
            ),
            or_(
                campaigns.c.budget.is_(None),
                campaigns.c.budget_used + discount <= campaigns.c.budget,
            ),
            chain.gate,
        )
        .values(
            redemptions_used=campaigns.c.redemptions_used + 1,
            budget_used=campaigns.c.budget_used + discount,
        )
        .returning(campaigns.c.id)
    )


def _code(chain: Chain, insert: Any) -> Any:
    return (
        update(codes)
        .where(
            codes.c.id == param("code_id", BigInteger),
            codes.c.active.is_(True),
            codes.c.live,
            or_(codes.c.max_redemptions.is_(None), codes.c.used < codes.c.max_redemptions),
            chain.gate,
        )
        .values(used=codes.c.used + 1)
        .returning(codes.c.id)
    )


def _customer(ref_name: str) -> Callable[[Chain, Any], Any]:
    def build(chain: Chain, insert: Any) -> Any:
        limit = param("per_customer", Integer)
        campaign_id = param("campaign_id", BigInteger)
        earlier = usage.alias("earlier")
        # Uses under the identity's retired refs: fixed (only given back) once
        # its current ref is written, so the row lock below keeps this exact.
        before = (
            select(func.coalesce(func.sum(earlier.c.used), 0))
            .where(
                earlier.c.campaign_id == campaign_id,
                in_list(earlier.c.customer_ref, PREFIX + ref_name + "_prior"),
            )
            .scalar_subquery()
        )
        row = select(campaign_id, param(ref_name, String), literal(1, Integer))
        return (
            insert(usage)
            .from_select(
                ["campaign_id", "customer_ref", "used"],
                row.where(chain.gate, or_(limit.is_(None), before < limit)),
            )
            .on_conflict_do_update(
                index_elements=[usage.c.campaign_id, usage.c.customer_ref],
                set_={"used": usage.c.used + 1},
                where=or_(limit.is_(None), usage.c.used + before < limit),
            )
            .returning(usage.c.used)
        )

    return build


def _first_order(ref_name: str) -> Callable[[Chain, Any], Any]:
    def build(chain: Chain, insert: Any) -> Any:
        first_only = param("first_order_only", Boolean)
        earlier = orders.alias("earlier")
        ordered_before = exists().where(
            in_list(earlier.c.customer_ref, PREFIX + ref_name + "_prior"), earlier.c.live > 0
        )
        first = not_(ordered_before)
        row = select(param(ref_name, String), literal(1, Integer))
        return (
            insert(orders)
            .from_select(
                ["customer_ref", "live"], row.where(chain.gate, or_(not_(first_only), first))
            )
            .on_conflict_do_update(
                index_elements=[orders.c.customer_ref],
                set_={"live": orders.c.live + 1},
                where=or_(not_(first_only), and_(orders.c.live == 0, first)),
            )
            .returning(orders.c.live)
        )

    return build


def _period(chain: Chain, insert: Any) -> Any:
    """The sale counted in its affiliate's period under the plan that priced it
    (plans with tiers or a bonus; ``period`` unset otherwise). The period's row
    exists by then (``open_period``): an UPDATE, which PostgreSQL plans once."""
    return (
        update(periods)
        .where(
            periods.c.affiliate_id == param("affiliate_id", BigInteger),
            periods.c.plan_id == param("plan_id", BigInteger),
            periods.c.period == param("period", String),
            chain.gate,
        )
        .values(
            sales=periods.c.sales + 1,
            revenue=periods.c.revenue + param("order_amount", BigInteger),
        )
        .returning(periods.c.sales)
    )


def _open_period(insert: Any) -> Any:
    return (
        insert(periods)
        .values(
            affiliate_id=bindparam("affiliate_id", type_=BigInteger),
            plan_id=bindparam("plan_id", type_=BigInteger),
            period=bindparam("period", type_=String),
            starts_at=bindparam("period_starts_at", type_=UtcDateTime),
            ends_at=bindparam("period_ends_at", type_=UtcDateTime),
            sales=0,
            revenue=0,
        )
        .on_conflict_do_nothing()
        .returning(periods.c.sales)
    )


OPEN_PERIOD = prebuilt(_open_period)


async def open_period(writes: Transactional, params: Mapping[str, Any]) -> None:
    """The row of the sale's period, made empty if it is not there yet (once per
    affiliate, plan and month; concurrent first sales make one row)."""
    names = ("affiliate_id", "plan_id", "period", "period_starts_at", "period_ends_at")
    await writes.first(OPEN_PERIOD[writes.dialect], {name: params[name] for name in names})


def _ledger(chain: Chain, insert: Any) -> Any:
    columns = {
        "created_at": param("now", UtcDateTime),
        "kind": literal("redemption", String),
        "redemption_id": chain.redemption_id,
        "order_id": param("order_id", String),
        "code": param("code", String),
        "campaign_id": param("campaign_id", BigInteger),
        "affiliate_id": param("affiliate_id", BigInteger),
        "currency": param("currency", String),
        "order_amount": param("order_amount", BigInteger),
        "discount": param("discount", BigInteger),
        "commission": param("commission", BigInteger),
        "available_at": param("available_at", UtcDateTime),
        "plan_id": param("plan_id", BigInteger),
        "plan_revision": param("plan_revision", Integer),
        "rate": param("rate", Numeric(5, 2)),
    }
    return (
        insert(entries)
        .from_select(list(columns), select(*columns.values()).where(chain.gate))
        .returning(entries.c.id)
    )


def _event(chain: Chain, insert: Any) -> Any:
    # The payload is the answer (a RedemptionRead: the customer as its ref only).
    columns = {
        "type": literal(EventType.REDEMPTION_CREATED.value, String),
        "payload": json_document(chain.answer_body),
        "created_at": param("now", UtcDateTime),
    }
    return (
        insert(events)
        .from_select(list(columns), select(*columns.values()).where(chain.gate))
        .returning(events.c.id)
    )


def _answer(chain: Chain, insert: Any) -> Any:
    now = param("now", UtcDateTime)
    columns = {
        "scope": param("scope", String),
        "key": param("idempotency_key", String),
        "request_hash": param("request_hash", String),
        "status_code": literal(201, Integer),
        "response_body": chain.answer_body,
        "created_at": now,
        "completed_at": now,
    }
    return (
        insert(answers)
        .from_select(list(columns), select(*columns.values()).where(chain.gate))
        .on_conflict_do_nothing(index_elements=["scope", "key"])
        .returning(answers.c.id)
    )


@dataclass(frozen=True)
class Step:
    name: str
    build: Callable[[Chain, Any], Any]
    # The parameter that must be set for the step to run (identity refs).
    needs: str | None = None
    # The kind of the row whose id the later steps use, for the step that writes it.
    identifies: Kind | None = None


REDEMPTION = Step("redemption", _redemption, identifies=Kind.REDEMPTION)
# The limits: what a redemption consumes, and a reservation holds.
LIMITS = (
    Step("campaign", _campaign),
    Step("code", _code),
    Step("customer", _customer("customer_ref"), needs="customer_ref"),
    Step("customer_alt", _customer("customer_alt_ref"), needs="customer_alt_ref"),
    Step("first_order", _first_order("customer_ref"), needs="customer_ref"),
    Step("first_order_alt", _first_order("customer_alt_ref"), needs="customer_alt_ref"),
)
ANSWER = Step("answer", _answer)
# What records a sale, once its limits are consumed (or held).
RECORDS = (
    Step("period", _period, needs="period"),
    Step("ledger", _ledger),
    Step("event", _event),
    ANSWER,
)
STEPS = (REDEMPTION, *LIMITS, *RECORDS)
HOLD = (Step("reservation", _reservation, identifies=Kind.RESERVATION), *LIMITS, ANSWER)
CONFIRM = (REDEMPTION, Step("confirm", _confirm), *RECORDS)


def _one_statement(steps: tuple[Step, ...]) -> Any:
    """PostgreSQL: every step of ``steps`` a CTE gated on the ones before; the
    redemption's id, or ``promo_abandon(first step that gave nothing)``."""
    # ``reached``: every step so far ran, or was skipped for want of its key.
    # A step that ran implies the ones before it did (it was gated on them),
    # so each condition names at most one CTE beside the one before it.
    reached: ColumnElement[bool] = true()
    done: list[tuple[Step, ColumnElement[bool]]] = []
    red_id: ColumnElement[Any] = literal(None, BigInteger)
    red_scalar: ColumnElement[Any] = red_id
    body: ColumnElement[Any] = literal(None, LargeBinary)
    for step in steps:
        needed = param(step.needs, String) if step.needs is not None else None
        gate = reached if needed is None else and_(reached, needed.is_not(None))
        chain = Chain(gate=gate, redemption_id=red_id, answer_body=body)
        cte = step.build(chain, postgresql.insert).cte(step.name)
        ran = exists(select(literal(1)).select_from(cte))
        reached = ran if needed is None else or_(and_(needed.is_(None), reached), ran)
        done.append((step, reached))
        if step.identifies is not None:
            # Steps that use the id select from the redemption's CTE (one row).
            red_id, red_scalar = cte.c.id, select(cte.c.id).scalar_subquery()
            rendered = public_id(step.identifies, red_id)
            body = (
                param("answer_head", LargeBinary)
                .op("||", return_type=LargeBinary)(func.convert_to(rendered, "UTF8"))
                .op("||", return_type=LargeBinary)(param("answer_tail", LargeBinary))
            )
    stopped = case(*((not_(ok), literal(step.name)) for step, ok in done), else_=literal("answer"))
    return select(
        case((reached, red_scalar), else_=func.promo_abandon(stopped, type_=BigInteger)).label(
            "redemption_id"
        )
    )


def _uncounted(steps: tuple[Step, ...]) -> tuple[Step, ...]:
    return tuple(step for step in steps if step.name != "period")


# Each composition twice: with the ``period`` step for the sales a plan counts
# per period, without it for every other (a smaller statement).
ONE_STATEMENT = _one_statement(_uncounted(STEPS))
COUNTED_STATEMENT = _one_statement(STEPS)
STATEMENTS: dict[tuple[tuple[Step, ...], bool], Any] = {
    (STEPS, False): ONE_STATEMENT,
    (STEPS, True): COUNTED_STATEMENT,
    (HOLD, False): _one_statement(HOLD),
    (CONFIRM, False): _one_statement(_uncounted(CONFIRM)),
    (CONFIRM, True): _one_statement(CONFIRM),
}
_ONE_BY_ONE = Chain(
    gate=true(),
    redemption_id=param("redemption_id", BigInteger),
    answer_body=param("response_body", LargeBinary),
)
ONE_BY_ONE = {
    step.name: step.build(_ONE_BY_ONE, sqlite.insert) for step in (*STEPS, *HOLD, *CONFIRM)
}


@dataclass(frozen=True)
class Stopped:
    """The steps stopped at ``step``: nothing they did may be kept."""

    step: str


async def run_in_one_statement(
    writes: Autocommit, params: Mapping[str, Any], steps: tuple[Step, ...] = STEPS
) -> int | Stopped:
    """All steps as one autocommitted statement: the id of the row they wrote
    (the redemption's), or where it stopped (and then it changed nothing)."""
    counted = (steps, True) in STATEMENTS and params.get("period") is not None
    statement = STATEMENTS[(steps, counted)]
    try:
        row = await writes.first(statement, _bound(params))
    except Exception as exc:
        stopped = _abandoned_at(exc)
        if stopped is None:
            raise
        return Stopped(stopped)
    assert row is not None  # noqa: S101 (the statement answers one row or raises)
    return int(row["redemption_id"])


async def run_one_by_one(
    unit: Autocommit,
    params: Mapping[str, Any],
    render_body: Callable[[int], bytes],
    steps: tuple[Step, ...] = STEPS,
) -> int | Stopped:
    """The same steps one statement at a time, inside the caller's transaction,
    which must roll back when they stopped."""
    values = dict(params)
    redemption_id: int | None = None
    for step in steps:
        if step.needs is not None and values[step.needs] is None:
            continue
        row = await unit.first(ONE_BY_ONE[step.name], _bound(values))
        if row is None:
            return Stopped(step.name)
        if step.identifies is not None:
            redemption_id = values["redemption_id"] = int(row["id"])
            # The answer's body, with the id in it (the event's payload too).
            values["response_body"] = render_body(redemption_id)
    assert redemption_id is not None  # noqa: S101
    return redemption_id


async def run(
    writes: Transactional,
    params: Mapping[str, Any],
    render_body: Callable[[int], bytes],
    steps: tuple[Step, ...] = STEPS,
) -> int | Stopped:
    """All the steps of a composition (``STEPS``, ``HOLD``, ``CONFIRM``), as this
    database takes them best: the id of the row they wrote, or the step they
    stopped at (and then nothing they did is kept)."""
    if writes.dialect == "postgresql":
        return await run_in_one_statement(writes, params, steps)
    async with writes.transaction() as unit:
        result = await run_one_by_one(unit, params, render_body, steps)
        if isinstance(result, Stopped):
            await unit.rollback()
        return result


def _abandoned_at(exc: BaseException) -> str | None:
    """The step named by promo_abandon(), for its error bare or wrapped."""
    for candidate in (exc, getattr(exc, "orig", None), exc.__cause__):
        if getattr(candidate, "sqlstate", None) == ABANDONED:
            return str(getattr(candidate, "detail", "") or "")
    return None


# Why a step gave nothing, read right after it stopped.
CAMPAIGN_STATE = select(
    campaigns.c.status, campaigns.c.max_redemptions, campaigns.c.redemptions_used
).where(campaigns.c.id == bindparam("campaign_id"))
CODE_STATE = select(
    and_(codes.c.active, codes.c.live).label("active"),
    reserved_until(codes.c.id).label("reserved_until"),
).where(codes.c.id == bindparam("code_id"))


async def refusal_at(reads: Autocommit, stopped: Stopped, params: Mapping[str, Any]) -> Refused:
    """The one classification of a stop, the same on every database."""
    if stopped.step == "redemption":
        return Refused(Reason.ORDER_ALREADY_REDEEMED)
    if stopped.step == "campaign":
        row = await reads.first(CAMPAIGN_STATE, {"campaign_id": params["campaign_id"]})
        assert row is not None  # noqa: S101 (campaigns are never deleted)
        if row["status"] != "active":
            return Refused(Reason.CAMPAIGN_INACTIVE)
        if row["max_redemptions"] is not None and row["redemptions_used"] >= row["max_redemptions"]:
            return Refused(Reason.CAMPAIGN_EXHAUSTED)
        return Refused(Reason.BUDGET_EXHAUSTED)
    if stopped.step == "code":
        row = await reads.first(CODE_STATE, {"code_id": params["code_id"]})
        if row is None or not row["active"]:
            return Refused(Reason.CODE_DISABLED)
        return code_spent(instant(row["reserved_until"]))
    if stopped.step in ("customer", "customer_alt"):
        return Refused(Reason.CUSTOMER_LIMIT_REACHED)
    if stopped.step in ("first_order", "first_order_alt"):
        return Refused(Reason.FIRST_ORDER_ONLY)
    raise AssertionError(f"no refusal for a stop at {stopped.step!r}")


# The inverse, for a rollback: the same rows in the same order. FOR NO KEY
# UPDATE, as the redemption's own UPDATE takes: it does not wait for a code
# batch's rounds, which hold the row FOR KEY SHARE.
LOCK_CAMPAIGN = (
    select(campaigns.c.id)
    .where(campaigns.c.id == bindparam("campaign_id"))
    .with_for_update(key_share=True)
)
RETURN_TO_CAMPAIGN = (
    update(campaigns)
    .where(campaigns.c.id == bindparam("campaign_id"))
    .values(
        redemptions_used=campaigns.c.redemptions_used - bindparam("uses", type_=Integer),
        budget_used=campaigns.c.budget_used - bindparam("budget_back", type_=BigInteger),
    )
    .returning(campaigns.c.id)
)
RETURN_TO_CODE = (
    update(codes)
    .where(codes.c.id == bindparam("code_id"))
    .values(used=codes.c.used - 1)
    .returning(codes.c.id)
)
RETURN_TO_CUSTOMER = (
    update(usage)
    .where(
        usage.c.campaign_id == bindparam("of_campaign"),
        usage.c.customer_ref == bindparam("of_customer"),
    )
    .values(used=usage.c.used - 1)
    .returning(usage.c.id)
)
RETURN_ORDER = (
    update(orders)
    .where(orders.c.customer_ref == bindparam("of_customer"))
    .values(live=orders.c.live - 1)
    .returning(orders.c.customer_ref)
)


async def give_back(
    unit: Autocommit,
    *,
    campaign_id: int,
    code_id: int,
    customer_refs: tuple[str, ...],
    budget: int,
    redemption: bool,
) -> None:
    """Give back ``budget`` and, for a full rollback (``redemption``), one use of
    every counter the redemption consumed; in the lock order of the steps. The
    caller took the campaign row first (``LOCK_CAMPAIGN``)."""
    uses = 1 if redemption else 0
    await unit.first(
        RETURN_TO_CAMPAIGN, {"campaign_id": campaign_id, "uses": uses, "budget_back": budget}
    )
    if not redemption:
        return
    await unit.first(RETURN_TO_CODE, {"code_id": code_id})
    for ref in customer_refs:
        await unit.first(RETURN_TO_CUSTOMER, {"of_campaign": campaign_id, "of_customer": ref})
    for ref in customer_refs:
        await unit.first(RETURN_ORDER, {"of_customer": ref})


UNCOUNT_PERIOD = (
    update(periods)
    .where(
        periods.c.affiliate_id == bindparam("of_affiliate"),
        periods.c.plan_id == bindparam("of_plan"),
        periods.c.period == bindparam("of_period"),
    )
    .values(
        sales=periods.c.sales - 1,
        revenue=periods.c.revenue - bindparam("of_revenue", type_=BigInteger),
    )
    .returning(periods.c.sales)
)


async def uncount_period(unit: Autocommit, red: Redemption) -> None:
    """The inverse of the ``period`` step, for a full rollback (after the other
    counters, in the steps' lock order): the sale leaves its period's figures,
    so later sales are priced as if it had never been (earlier ones keep their
    price)."""
    await unit.first(
        UNCOUNT_PERIOD,
        {
            "of_affiliate": red.affiliate_id,
            "of_plan": red.commission_plan_id,
            "of_period": red.commission_period,
            "of_revenue": red.order_amount,
        },
    )
