"""What a checkout caller is told, and how often it may fail.

Failed guesses (unknown or disabled codes) spend the caller's attempt
budgets (see promo.throttle). With ``uniform_refusals`` on, every refusal
that would tell a shopper whether a code exists is answered with one
uniform reason; the detailed reason is still counted in the metrics.
"""

from __future__ import annotations

from prometheus_client import Counter

from promo.auth.service import Principal
from promo.campaigns.eligibility import Reason
from promo.redemptions.identity import customer_key
from promo.redemptions.schemas import CheckoutRequest

# Reasons a guesser gets for codes that do not work at all.
GUESS_REASONS = frozenset({Reason.CODE_NOT_FOUND.value, Reason.CODE_DISABLED.value})
# Reasons that reveal that a code exists (its campaign, its window, its usage).
CONCEALED_REASONS = frozenset(
    {
        Reason.CODE_NOT_FOUND.value,
        Reason.CODE_DISABLED.value,
        Reason.CAMPAIGN_INACTIVE.value,
        Reason.NOT_STARTED.value,
        Reason.EXPIRED.value,
        Reason.CODE_EXHAUSTED.value,
        Reason.CAMPAIGN_EXHAUSTED.value,
        Reason.BUDGET_EXHAUSTED.value,
    }
)
UNIFORM_REASON = "code_unavailable"
UNIFORM_MESSAGE = "This code cannot be used."

REFUSALS = Counter(
    "promo_checkout_refusals",
    "Validations and redemptions refused, by detailed reason",
    ["operation", "reason"],
)


def identities(principal: Principal, request: CheckoutRequest) -> dict[str, str | None]:
    """Who is trying: the API key, the customer, and the shopper's address."""
    return {
        "key": str(principal.key_id),
        "customer": customer_key(request.customer_id, request.customer_email),
        "ip": request.client_ip,
    }


def concealed(reason: str, uniform: bool) -> bool:
    return uniform and reason in CONCEALED_REASONS
