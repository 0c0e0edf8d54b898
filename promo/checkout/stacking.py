"""Several discounts on one order: which ones stack, and in what order (pure).

A checkout may name up to ``MAX_CODES`` codes, and automatic promotions apply
beside them, each on the terms of its campaign (promo.campaigns.stacking).
The rule, written once here:

- Two discounts combine when neither is exclusive and each one's
  ``combines_with`` admits the other's class (a product discount with an
  order discount needs the product one to combine with orders *and* the
  order one with products: ``combinable``).
- They are considered by priority, highest first; equal priorities in the
  order the checkout gave them (automatic promotions after the codes).
- Each is decided on what the ones accepted before it left of the cart (the
  caller's ``apply``: its own rules, then its discount on what is left). A
  discount that its own rules refuse is refused with its reason; one that
  would apply alone but does not combine with one already accepted is
  refused ``not_combinable``, naming that one; neither changes the cart.

So the outcome does not depend on which discounts happen to be refused for
their own reasons: a refused discount never blocks another.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

import msgspec

from promo.campaigns.stacking import Stacking, combinable
from promo.checkout.eligibility import Refused
from promo.checkout.reasons import Reason

MAX_CODES = 5


def application_order(stackings: Sequence[Stacking]) -> list[int]:
    """The positions of ``stackings`` in the order they are decided: priority
    first (highest first), then as given."""
    return sorted(range(len(stackings)), key=lambda index: (-stackings[index].priority, index))


State = TypeVar("State")
Applied = TypeVar("Applied")


class Outcome(msgspec.Struct, Generic[Applied], frozen=True):
    """One discount's answer: what ``apply`` gave it, or why it was refused."""

    applied: Applied | None = None
    refused: Refused | None = None


def stack(
    stackings: Sequence[Stacking],
    state: State,
    apply: Callable[[int, State], tuple[Applied, State] | Refused],
    *,
    label: Callable[[int], str] = str,
) -> tuple[list[Outcome[Applied]], State]:
    """Decide the discounts at ``stackings``' positions in application order.

    ``apply(position, state)``: that discount decided on ``state`` (what is left
    of the cart), giving what it applies and the state after it, or a refusal.
    ``label(position)`` names a discount in a ``not_combinable`` refusal's
    details (``conflicts_with``). Answers the outcomes in the positions' order
    and the final state.
    """
    outcomes: dict[int, Outcome[Applied]] = {}
    accepted: list[int] = []
    for position in application_order(stackings):
        result = apply(position, state)
        if isinstance(result, Refused):
            outcomes[position] = Outcome(refused=result)
            continue
        mine = stackings[position]
        clash = next((other for other in accepted if not combinable(mine, stackings[other])), None)
        if clash is not None:
            # It would apply alone: its result is dropped, the state kept.
            outcomes[position] = Outcome(
                refused=Refused(Reason.NOT_COMBINABLE, {"conflicts_with": label(clash)})
            )
            continue
        applied, state = result
        outcomes[position] = Outcome(applied=applied)
        accepted.append(position)
    return [outcomes[position] for position in range(len(stackings))], state
