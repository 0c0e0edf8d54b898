"""Access to and erasure of what promo holds about one customer.

promo never stores a customer's id or e-mail, only their refs (promo.pii);
but a ref is still personal data while the key that made it exists: it
links a person's redemptions together and to the person the operator can
hash again. So an identity is looked up by its refs (under every key of the
keyring), and erased by replacing each of its refs, wherever it is kept,
by a tombstone of its own: rows, counters, ledger entries and totals stay
exactly as they were (a report of distinct customers counts the tombstone
as the customer it replaced), and nothing leads back to the person.

An erasure takes with it the refs filed beside the identity's own on its
redemptions (the e-mail given with an id), one step only: an e-mail shared
by two accounts does not erase the other account.

Rows are updated in the lock order of checkout (campaigns, reservations,
codes, then redemptions, usage, first orders), so an erasure never deadlocks
with a redemption, a refund or a reservation given back.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

import msgspec
from sqlalchemy import ColumnElement, Table, Text, func, or_, select, update
from sqlalchemy import cast as sql_cast
from sqlalchemy.ext.asyncio import AsyncSession

from promo.campaigns.models import Campaign
from promo.checkout.models import (
    CustomerOrders,
    CustomerUsage,
    IdempotencyRecord,
    Redemption,
    Reservation,
)
from promo.checkout.views import status_of
from promo.codes.models import Code, CodeBatchCustomer
from promo.customers.schemas import (
    CustomerHoldings,
    Erasure,
    HeldOrders,
    HeldRedemption,
    HeldUsage,
)
from promo.db import dialect
from promo.db.results import rows_changed
from promo.identity import Identity
from promo.ids import Kind, encode
from promo.pii import is_tombstone, tombstone

campaigns = cast(Table, Campaign.__table__)
usage = cast(Table, CustomerUsage.__table__)
orders = cast(Table, CustomerOrders.__table__)
redemptions = cast(Table, Redemption.__table__)
reservations = cast(Table, Reservation.__table__)
answers = cast(Table, IdempotencyRecord.__table__)
codes = cast(Table, Code.__table__)
listed = cast(Table, CodeBatchCustomer.__table__)

# Redemptions listed by a lookup (the total is always given).
MAX_LISTED = 1000


def _filed_under(refs: Iterable[str]) -> ColumnElement[bool]:
    listed = list(refs)
    return or_(redemptions.c.customer_ref.in_(listed), redemptions.c.customer_alt_ref.in_(listed))


def _mentions(column: Any, refs: Iterable[str], *, postgres: bool) -> ColumnElement[bool]:
    """``column`` (JSON, or a JSON body in bytes) contains one of ``refs``."""
    if column is answers.c.response_body:
        as_text = func.convert_from(column, "UTF8") if postgres else sql_cast(column, Text)
    else:
        as_text = sql_cast(column, Text)
    return or_(*(as_text.contains(ref, autoescape=True) for ref in refs))


async def _person(session: AsyncSession, identity: Identity) -> tuple[list[str], list[str]]:
    """The identity's refs found in storage, and those filed beside them."""
    own = set(identity.refs)
    found: set[str] = set()
    linked: set[str] = set()
    pairs = await session.execute(
        select(redemptions.c.customer_ref, redemptions.c.customer_alt_ref).where(_filed_under(own))
    )
    for pair in pairs:
        for ref in pair:
            if ref is None or is_tombstone(ref):
                continue
            (found if ref in own else linked).add(ref)
    for column in (usage.c.customer_ref, orders.c.customer_ref, codes.c.customer_ref):
        found.update(await session.scalars(select(column).where(column.in_(own)).distinct()))
    postgres = dialect.is_postgres(session)
    for rules in await session.scalars(
        select(campaigns.c.rules).where(_mentions(campaigns.c.rules, own, postgres=postgres))
    ):
        found.update(own.intersection((rules or {}).get("customer_refs", ())))
    return sorted(found), sorted(linked)


async def lookup(session: AsyncSession, identity: Identity) -> CustomerHoldings:
    """What promo holds about ``identity`` and the refs linked to it."""
    found, linked = await _person(session, identity)
    refs = [*found, *linked]
    postgres = dialect.is_postgres(session)
    if not refs:
        return CustomerHoldings(
            customer_refs=[],
            linked_refs=[],
            redemptions=[],
            redemptions_total=0,
            usage=[],
            orders=[],
            allow_lists=[],
            stored_answers=0,
        )
    total = await session.scalar(select(func.count()).where(_filed_under(refs)))
    listed = await session.scalars(
        select(Redemption).where(_filed_under(refs)).order_by(Redemption.id).limit(MAX_LISTED)
    )
    used = await session.execute(
        select(usage.c.campaign_id, usage.c.customer_ref, usage.c.used)
        .where(usage.c.customer_ref.in_(refs))
        .order_by(usage.c.campaign_id, usage.c.customer_ref)
    )
    live = await session.execute(
        select(orders.c.customer_ref, orders.c.live)
        .where(orders.c.customer_ref.in_(refs))
        .order_by(orders.c.customer_ref)
    )
    allowing = [
        campaign_id
        for campaign_id, rules in await session.execute(
            select(campaigns.c.id, campaigns.c.rules)
            .where(_mentions(campaigns.c.rules, refs, postgres=postgres))
            .order_by(campaigns.c.id)
        )
        if set(refs).intersection((rules or {}).get("customer_refs", ()))
    ]
    stored = await session.scalar(
        select(func.count()).where(_mentions(answers.c.response_body, refs, postgres=postgres))
    )
    return CustomerHoldings(
        customer_refs=found,
        linked_refs=linked,
        redemptions=[
            HeldRedemption(
                id=encode(Kind.REDEMPTION, red.id),
                campaign_id=encode(Kind.CAMPAIGN, red.campaign_id),
                order_id=red.order_id,
                created_at=red.created_at,
                status=status_of(red),  # type: ignore[arg-type]
            )
            for red in listed
        ],
        redemptions_total=int(total or 0),
        usage=[
            HeldUsage(campaign_id=encode(Kind.CAMPAIGN, campaign_id), customer_ref=ref, used=count)
            for campaign_id, ref, count in used
        ],
        orders=[HeldOrders(customer_ref=ref, live=count) for ref, count in live],
        allow_lists=[encode(Kind.CAMPAIGN, campaign_id) for campaign_id in allowing],
        stored_answers=int(stored or 0),
    )


async def _count(session: AsyncSession, statement: Any) -> int:
    result = await session.execute(statement)
    return rows_changed(result)


async def erase(session: AsyncSession, identity: Identity) -> Erasure:
    """Replace every ref of ``identity`` (and those linked to it) by a tombstone."""
    found, linked = await _person(session, identity)
    refs = [*found, *linked]
    postgres = dialect.is_postgres(session)
    # Whatever mentions the identity without being found above (an answer whose
    # redemption was since rolled back and purged) is erased all the same.
    refs.extend(ref for ref in identity.refs if ref not in refs)
    stones = {ref: tombstone() for ref in refs}
    allow_lists = 0
    for campaign_id, rules in await session.execute(
        select(campaigns.c.id, campaigns.c.rules)
        .where(_mentions(campaigns.c.rules, refs, postgres=postgres))
        .order_by(campaigns.c.id)
        .with_for_update()
    ):
        allowed = list((rules or {}).get("customer_refs", ()))
        if not stones.keys() & set(allowed):
            continue
        changed = {**rules, "customer_refs": [stones.get(ref, ref) for ref in allowed]}
        await session.execute(
            update(campaigns).where(campaigns.c.id == campaign_id).values(rules=changed)
        )
        allow_lists += 1
    counts = {"redemptions": 0, "usage_counters": 0, "order_counters": 0, "bound_codes": 0}
    # Reservations right after campaigns, as a release locks them: a hold gives
    # back under its refs, which must stay those of its usage and order rows.
    for ref, stone in stones.items():
        for column in (reservations.c.customer_ref, reservations.c.customer_alt_ref):
            await session.execute(
                update(reservations).where(column == ref).values({column.name: stone})
            )
    for ref, stone in stones.items():
        # Codes bound to the person (and the lists they were issued from, whose
        # id or e-mail as given goes too), right after campaigns: checkout's order.
        counts["bound_codes"] += await _count(
            session, update(codes).where(codes.c.customer_ref == ref).values(customer_ref=stone)
        )
        await session.execute(
            update(listed)
            .where(listed.c.customer_ref == ref)
            .values(customer_ref=stone, given=None)
        )
        for column in (redemptions.c.customer_ref, redemptions.c.customer_alt_ref):
            counts["redemptions"] += await _count(
                session, update(redemptions).where(column == ref).values({column.name: stone})
            )
        counts["usage_counters"] += await _count(
            session,
            update(usage).where(usage.c.customer_ref == ref).values(customer_ref=stone),
        )
        counts["order_counters"] += await _count(
            session,
            update(orders).where(orders.c.customer_ref == ref).values(customer_ref=stone),
        )
    stored = 0
    mentioning = await session.execute(
        select(answers.c.id, answers.c.response_body).where(
            _mentions(answers.c.response_body, refs, postgres=postgres)
        )
    )
    for record_id, body in mentioning:
        text = bytes(body).decode()
        for ref, stone in stones.items():
            text = text.replace(ref, stone)
        if text.encode() != bytes(body):
            await session.execute(
                update(answers).where(answers.c.id == record_id).values(response_body=text.encode())
            )
            stored += 1
    return Erasure(
        erased_refs=len(found) + len(linked),
        allow_lists=allow_lists,
        stored_answers=stored,
        **counts,
    )


def audit_details(erasure: Erasure) -> dict[str, Any]:
    """What the audit log keeps of an erasure: its counts, nothing of the person."""
    return cast(dict[str, Any], msgspec.to_builtins(erasure))
