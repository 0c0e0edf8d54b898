"""What a checkout caller is told, and how often it may fail.

Failed guesses (unknown or disabled codes) spend the caller's attempt
budgets (see promo.throttle). With ``uniform_refusals`` on, every refusal
that would tell a shopper whether a code exists is answered with one
uniform reason; the detailed reason is still counted in the metrics.
"""

from __future__ import annotations

import ipaddress

from prometheus_client import Counter

from promo.auth.roles import Principal
from promo.checkout.reasons import CONCEALED_REASONS, GUESS_REASONS, UNIFORM_MESSAGE, UNIFORM_REASON
from promo.checkout.schemas import CheckoutRequest
from promo.checkout.throttle import Attempt
from promo.errors import Conflict
from promo.identity import Identity

REFUSALS = Counter(
    "promo_checkout_refusals",
    "Validations and redemptions refused, by detailed reason",
    ["operation", "reason"],
)


def identities(
    principal: Principal, request: CheckoutRequest, identity: Identity
) -> dict[str, str | None]:
    """Who is trying: the API key, the customer, and the shopper's address."""
    return {
        "key": str(principal.key_id),
        "customer": identity.primary,
        "ip": client_address(request.client_ip),
    }


def client_address(client_ip: str | None) -> str | None:
    """The shopper's address as one throttle identity.

    One spelling per address (``2001:DB8::1`` and ``2001:db8:0::1``, or an
    IPv4-mapped IPv6 address and its IPv4 form, must not get one budget each),
    and one identity per IPv6 /64: the block a single subscriber is given, so
    hopping between its addresses buys no fresh budget. Text that is not an
    address is used trimmed and lower-cased.
    """
    text = (client_ip or "").strip().lower()
    if not text:
        return None
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return text
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address.packed, 64), strict=False))
    return str(address)


def counts_as_failure(reason: str, uniform: bool) -> bool:
    """Guesses spend the budget; with uniform answers every concealed refusal does,
    or the pace of 429s would tell an unknown code from a used-up one."""
    return reason in (CONCEALED_REASONS if uniform else GUESS_REASONS)


def concealed(reason: str, uniform: bool) -> bool:
    return uniform and reason in CONCEALED_REASONS


def conceal(refusal: Conflict, uniform: bool) -> Conflict:
    """The refusal as the caller may see it: the uniform one when it would tell
    whether the code exists."""
    if concealed(refusal.code, uniform):
        return Conflict(UNIFORM_REASON, UNIFORM_MESSAGE)
    return refusal


async def settle_refusal(attempt: Attempt, operation: str, reason: str, uniform: bool) -> None:
    """Count a refusal in the metrics and, when it is a failed guess, in the
    caller's budgets; 429 instead when the caller is over a budget."""
    REFUSALS.labels(operation, reason).inc()
    if counts_as_failure(reason, uniform):
        await attempt.failed()
    else:
        await attempt.succeeded()
