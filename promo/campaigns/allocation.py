"""Which units of a cart an item-level discount falls on (pure).

The kinds that count items (``each`` with ``max_quantity``, buy X get Y, a
gift) pick units of cart lines. Units of one line are alike: each still costs
``line.remaining / line.quantity`` (what the line still costs, after earlier
codes, spread evenly), so a pick is a number of units per line, never a unit
of its own. ``units_cost(line, k)`` is what ``k`` of them still cost, rounded
down, exactly ``line.remaining`` for all of them: a discount bounded by it
never takes a line below zero.

Buy X get Y (``buy_x_get_y``) counts units in three classes: buy-only,
get-only and both (a unit that is in both sets). Every unit plays at most one
part in the whole order: a Y unit is never also an X unit, of its own
application or of another. ``n`` applications need ``n * buy`` X units and
``n * get`` Y units, all distinct, so ``n`` is the largest number, at most
``max_applications``, with

    buy-only + both >= n * buy,  get-only + both >= n * get,
    all units >= n * (buy + get).

The Y units are then the cheapest get units, taking no more "both" units than
can be spared from X (``both - max(0, n * buy - buy-only)``): greedy by price
under a cap on one class is the cheapest such choice. A get unit that costs
nothing any more (taken whole by an earlier code) is not a get unit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from fractions import Fraction
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:  # promo.campaigns.discount imports this module
    from promo.campaigns.discount import CartLine


def units_cost(line: CartLine, units: int) -> int:
    """What ``units`` of the line's units still cost, rounded down (all: exactly
    ``line.remaining``)."""
    return line.remaining * units // line.quantity


def _by_unit_cost(lines: Sequence[CartLine]) -> list[int]:
    """Indices of ``lines``, cheapest unit first (ties: earlier line first)."""
    return sorted(
        range(len(lines)), key=lambda i: (Fraction(lines[i].remaining, lines[i].quantity), i)
    )


def cheapest_units(lines: Sequence[CartLine], count: int | None) -> list[int]:
    """Units picked per line (same order as ``lines``): the cheapest ``count``
    units of the lines (all of them when ``count`` is None)."""
    picked = [0] * len(lines)
    left = count
    for index in _by_unit_cost(lines):
        take = lines[index].quantity if left is None else min(left, lines[index].quantity)
        picked[index] = take
        if left is not None:
            left -= take
            if left == 0:
                break
    return picked


class BuyGetCount(NamedTuple):
    """The units of a cart for buy X get Y, by class, and the applications they make."""

    buy_only: int
    get_only: int
    both: int
    applications: int
    # Units the cart lacks for one application (0 when it has one).
    missing: int


def buy_get_count(
    lines: Sequence[CartLine],
    in_buy: Callable[[CartLine], bool],
    in_get: Callable[[CartLine], bool],
    *,
    buy_quantity: int,
    get_quantity: int,
    max_applications: int,
) -> BuyGetCount:
    """How many applications the units of ``lines`` make (see the module doc)."""
    buy_only = get_only = both = 0
    for line in lines:
        buys, gets = in_buy(line), in_get(line) and line.remaining > 0
        if buys and gets:
            both += line.quantity
        elif buys:
            buy_only += line.quantity
        elif gets:
            get_only += line.quantity
    applications = min(
        max_applications,
        (buy_only + both) // buy_quantity,
        (get_only + both) // get_quantity,
        (buy_only + get_only + both) // (buy_quantity + get_quantity),
    )
    # Adding "both" units closes every gap at once, so the largest gap is the need.
    missing = max(
        0,
        buy_quantity - (buy_only + both),
        get_quantity - (get_only + both),
        buy_quantity + get_quantity - (buy_only + get_only + both),
    )
    return BuyGetCount(buy_only, get_only, both, applications, missing)


def get_units(
    lines: Sequence[CartLine],
    in_buy: Callable[[CartLine], bool],
    in_get: Callable[[CartLine], bool],
    count: BuyGetCount,
    *,
    buy_quantity: int,
    get_quantity: int,
) -> list[int]:
    """The Y units picked per line (same order as ``lines``) for ``count.applications``."""
    picked = [0] * len(lines)
    need = count.applications * get_quantity
    spare_both = count.both - max(0, count.applications * buy_quantity - count.buy_only)
    for index in _by_unit_cost(lines):
        if need == 0:
            break
        line = lines[index]
        if not (in_get(line) and line.remaining > 0):
            continue
        take = min(need, line.quantity)
        if in_buy(line):
            take = min(take, spare_both)
            spare_both -= take
        picked[index] = take
        need -= take
    return picked
