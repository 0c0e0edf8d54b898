"""A redemption in one statement, for the common case on PostgreSQL.

A checkout's redemption usually succeeds at once. Then the offer is read
(autocommit), and one autocommitted statement consumes every limit, records
the redemption and its ledger entry, and stores the answer under the
request's Idempotency-Key (``one_statement.REDEEM_AND_ANSWER``): three round
trips and one commit, where the general path needs seven and two.

Anything else gives way, having changed nothing, to the general path of
``promo.idempotent.run_once`` and ``service.redeem``, which then does what it
always did: a refusal from validation, a statement that stopped short (a
limit or an order taken meanwhile, an Idempotency-Key already used, replays
included), or SQLite. So the general path alone decides refusals, replays,
in-flight keys and their throttle accounting.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import msgspec
from litestar import Request, Response

from promo.auth.service import Principal
from promo.campaigns.eligibility import Accepted
from promo.db.autocommit import Autocommit
from promo.idempotent import identify, respond
from promo.ids import Kind, encode
from promo.redemptions import one_statement, service
from promo.redemptions.models import Redemption
from promo.redemptions.schemas import RedeemRequest
from promo.redemptions.validation import validate
from promo.throttle import Attempt

# The answer's body starts with its id (the first field of RedemptionRead).
ID_OPENING = b'{"id":"'

Render = Callable[[Redemption, str], msgspec.Struct]


async def redeem(
    request: Request[Any, Any, Any],
    data: RedeemRequest,
    *,
    principal: Principal,
    reads: Autocommit,
    writes: Autocommit,
    now: datetime,
    usage_first: bool,
    attempt: Attempt,
    render: Render,
) -> Response[bytes] | None:
    """The 201 answer of a redemption made in one statement, or None: take the
    general path (nothing was written)."""
    if writes.dialect != "postgresql":
        return None
    scope, key, fingerprint = identify(request, "redeem", principal, data)
    offer, decision = await validate(reads, data, now=now, usage_first=usage_first)
    if offer is None or not isinstance(decision, Accepted):
        return None
    red = service.granted(data, offer, decision, now=now)
    red.id = 0  # rendered, then left out: the statement writes the real one in
    body = msgspec.json.encode(msgspec.structs.replace(render(red, offer.code.display), id=""))
    if not body.startswith(ID_OPENING + b'"'):
        raise AssertionError("a redemption's answer must open with its id")
    head, tail = ID_OPENING, body[len(ID_OPENING) :]
    await attempt.succeeded()
    answer = one_statement.Answer(scope, key, fingerprint, head, tail)
    redemption_id = await one_statement.redeem_and_answer(writes, red, offer, answer)
    if redemption_id is None:
        return None
    public = encode(Kind.REDEMPTION, redemption_id).encode()
    return respond(201, head + public + tail, replayed=False)
