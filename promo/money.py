"""Money in integer minor units: currency exponents, exact percentages and splits.

Every amount in promo is an ``int`` counted in the currency's minor unit
(``1999`` is 19.99 EUR, ``1999`` is ¥1999). Nothing here touches floats:
percentages arrive as ``Decimal`` and are turned into exact integer ratios,
and the only place an amount becomes a decimal string is ``to_major_units``
for exports. The module is pure (no I/O), so unit and property tests cover it
directly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from types import MappingProxyType

MAX_AMOUNT = 10**9
"""The largest amount (in minor units) accepted at the edge: a unit price, a
cart total, shipping, a refund, a budget, a fixed commission, a threshold, an
adjustment. 10**9 minor units is 10,000,000.00 EUR or USD, ¥1,000,000,000.

Chosen from the sums, not from one order: every sum the service forms (a
report, a balance, a payout) adds ledger entries, each at most ``MAX_ENTRY``,
and ``MAX_ENTRY * ROWS_SAFE`` (about 2.1e15) stays four times below
``MAX_SAFE_INTEGER``. So a million maximal orders in one report row still
reach JSON as exact numbers that a JavaScript client reads exactly, and a
bigint never comes near overflowing (2**63 - 1 is 4.6e9 maximal entries away).
The price: in currencies whose minor unit is worth very little (IDR, IRR,
VND...) the ceiling is lower in value (IDR 10,000,000.00).
"""

MAX_QUANTITY = 10**6
"""The largest quantity of one cart line; a line's total is still bounded by
``MAX_AMOUNT`` (the cart total is)."""

MAX_ENTRY = 2 * MAX_AMOUNT
"""The largest magnitude of one ledger entry's amount: a discount is at most
the cart total plus its shipping, a commission its percentage of the order
plus a fixed part, each bounded by ``MAX_AMOUNT``."""

MAX_SAFE_INTEGER = 2**53 - 1
"""JavaScript's ``Number.MAX_SAFE_INTEGER``: the largest JSON number that every
client (browsers, spreadsheets, most reporting tools parse into doubles)
reads exactly. No sum the service answers with may exceed it."""

ROWS_SAFE = 2**20
"""How many maximal entries one sum may add and stay exact in JSON, with a
margin (see ``MAX_AMOUNT``)."""


def is_json_safe(amount: int) -> bool:
    """True when ``amount`` reaches a JSON client exactly (|amount| <= 2**53 - 1)."""
    return -MAX_SAFE_INTEGER <= amount <= MAX_SAFE_INTEGER


# ISO 4217 List One (SIX, edition published 2026-01-01): every code with a
# numeric minor unit. Codes whose minor unit is "N.A." (XDR, XUA, XSU, the
# bond-market units, precious metals, the testing and "no currency" codes)
# are not money a cart can be priced in, so they are left out. Withdrawn
# codes (HRK, BGN since the euro, ANG after XCG, SLL, ZWL, CUC) are gone from
# the list and from this table.
# Kept as a literal table rather than a dependency: it changes a few times a
# year and a review of this file is the right place to see such a change.
_EXPONENTS: dict[str, int] = {
    "AED": 2, "AFN": 2, "ALL": 2, "AMD": 2, "AOA": 2, "ARS": 2, "AUD": 2, "AWG": 2,
    "AZN": 2, "BAM": 2, "BBD": 2, "BDT": 2, "BHD": 3, "BIF": 0, "BMD": 2, "BND": 2,
    "BOB": 2, "BOV": 2, "BRL": 2, "BSD": 2, "BTN": 2, "BWP": 2, "BYN": 2, "BZD": 2,
    "CAD": 2, "CDF": 2, "CHE": 2, "CHF": 2, "CHW": 2, "CLF": 4, "CLP": 0, "CNY": 2,
    "COP": 2, "COU": 2, "CRC": 2, "CUP": 2, "CVE": 2, "CZK": 2, "DJF": 0, "DKK": 2,
    "DOP": 2, "DZD": 2, "EGP": 2, "ERN": 2, "ETB": 2, "EUR": 2, "FJD": 2, "FKP": 2,
    "GBP": 2, "GEL": 2, "GHS": 2, "GIP": 2, "GMD": 2, "GNF": 0, "GTQ": 2, "GYD": 2,
    "HKD": 2, "HNL": 2, "HTG": 2, "HUF": 2, "IDR": 2, "ILS": 2, "INR": 2, "IQD": 3,
    "IRR": 2, "ISK": 0, "JMD": 2, "JOD": 3, "JPY": 0, "KES": 2, "KGS": 2, "KHR": 2,
    "KMF": 0, "KPW": 2, "KRW": 0, "KWD": 3, "KYD": 2, "KZT": 2, "LAK": 2, "LBP": 2,
    "LKR": 2, "LRD": 2, "LSL": 2, "LYD": 3, "MAD": 2, "MDL": 2, "MGA": 2, "MKD": 2,
    "MMK": 2, "MNT": 2, "MOP": 2, "MRU": 2, "MUR": 2, "MVR": 2, "MWK": 2, "MXN": 2,
    "MXV": 2, "MYR": 2, "MZN": 2, "NAD": 2, "NGN": 2, "NIO": 2, "NOK": 2, "NPR": 2,
    "NZD": 2, "OMR": 3, "PAB": 2, "PEN": 2, "PGK": 2, "PHP": 2, "PKR": 2, "PLN": 2,
    "PYG": 0, "QAR": 2, "RON": 2, "RSD": 2, "RUB": 2, "RWF": 0, "SAR": 2, "SBD": 2,
    "SCR": 2, "SDG": 2, "SEK": 2, "SGD": 2, "SHP": 2, "SLE": 2, "SOS": 2, "SRD": 2,
    "SSP": 2, "STN": 2, "SVC": 2, "SYP": 2, "SZL": 2, "THB": 2, "TJS": 2, "TMT": 2,
    "TND": 3, "TOP": 2, "TRY": 2, "TTD": 2, "TWD": 2, "TZS": 2, "UAH": 2, "UGX": 0,
    "USD": 2, "USN": 2, "UYI": 0, "UYU": 2, "UYW": 4, "UZS": 2, "VED": 2, "VES": 2,
    "VND": 0, "VUV": 0, "WST": 2, "XAD": 2, "XAF": 0, "XCD": 2, "XCG": 2, "XOF": 0,
    "XPF": 0, "YER": 2, "ZAR": 2, "ZMW": 2, "ZWG": 2,
}  # fmt: skip

CURRENCY_EXPONENTS: Mapping[str, int] = MappingProxyType(_EXPONENTS)
"""ISO 4217 alphabetic code -> number of decimal places of its minor unit."""


def is_currency(code: str) -> bool:
    """True for an active ISO 4217 code, spelled exactly (upper case)."""
    return code in CURRENCY_EXPONENTS


def exponent(currency: str) -> int:
    """Decimal places of the currency's minor unit (EUR 2, JPY 0, BHD 3).

    Raises KeyError for a code that is not in ``CURRENCY_EXPONENTS``.
    """
    return CURRENCY_EXPONENTS[currency]


def div_round_half_up(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` rounded to the nearest int, halves away from zero.

    Exact for any size of int. This is the rounding of ``decimal.ROUND_HALF_UP``
    (2.5 -> 3, -2.5 -> -3), the rule the contract uses for every computed amount.
    """
    if denominator == 0:
        raise ZeroDivisionError("denominator must not be zero")
    if denominator < 0:
        numerator, denominator = -numerator, -denominator
    magnitude = (2 * abs(numerator) + denominator) // (2 * denominator)
    return magnitude if numerator >= 0 else -magnitude


def percent_of(amount: int, percent: Decimal) -> int:
    """``amount * percent / 100`` in minor units, rounded half up, exactly.

    ``percent`` has at most two decimal places and 0 < percent <= 100 (the
    contract's percentages); anything else raises ValueError rather than
    being rounded silently.
    """
    if not percent.is_finite() or not Decimal(0) < percent <= Decimal(100):
        raise ValueError(f"percent must be in (0, 100], got {percent}")
    numerator, denominator = percent.as_integer_ratio()
    # A reduced denominator dividing 100 is exactly "at most two decimal places".
    if 100 % denominator != 0:
        raise ValueError(f"percent has more than two decimal places: {percent}")
    hundredths = numerator * (100 // denominator)
    return div_round_half_up(amount * hundredths, 100 * 100)


def split_largest_remainder(total: int, weights: Sequence[int]) -> list[int]:
    """Split ``total`` over ``weights`` proportionally (largest remainder method).

    Each index first gets ``floor(total * w / sum(weights))``; the units left
    over go one each to the largest remainders, ties to the earlier index.
    Guarantees:

    - the parts sum exactly to ``total``;
    - each part is within 1 of its exact share ``total * w / sum(weights)``;
    - a zero weight gets zero;
    - when ``total <= sum(weights)`` no part exceeds its weight.

    ``total`` and the weights must be non-negative; if every weight is zero,
    ``total`` must be zero too (there is nothing to split it over).
    """
    if total < 0:
        raise ValueError(f"total must be non-negative, got {total}")
    if any(weight < 0 for weight in weights):
        raise ValueError("weights must be non-negative")
    weight_sum = sum(weights)
    if weight_sum == 0:
        if total != 0:
            raise ValueError(f"cannot split {total} over weights that sum to zero")
        return [0] * len(weights)

    parts: list[int] = []
    remainders: list[int] = []
    for weight in weights:
        part, remainder = divmod(total * weight, weight_sum)
        parts.append(part)
        remainders.append(remainder)

    # leftover = sum(remainders) / weight_sum < number of non-zero remainders,
    # so each index gets at most one extra unit and zero weights never do.
    leftover = total - sum(parts)
    by_remainder = sorted(range(len(weights)), key=lambda i: (-remainders[i], i))
    for index in by_remainder[:leftover]:
        parts[index] += 1
    return parts


def to_major_units(amount: int, currency: str) -> str:
    """The amount as a decimal string in major units, for exports.

    ``1999`` EUR -> ``"19.99"``, ``1999`` JPY -> ``"1999"``, ``-500`` EUR ->
    ``"-5.00"``, ``5`` BHD -> ``"0.005"``. Always exactly ``exponent`` decimals.
    """
    places = exponent(currency)
    if places == 0:
        return str(amount)
    sign = "-" if amount < 0 else ""
    major, minor = divmod(abs(amount), 10**places)
    return f"{sign}{major}.{minor:0{places}d}"
