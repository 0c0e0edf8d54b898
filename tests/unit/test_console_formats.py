"""The console's language choice and locale formatting (promo.console.i18n)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from promo.console.i18n import Formats, major_units, negotiate


@pytest.mark.parametrize(
    ("account", "header", "language"),
    [
        (None, "fr-FR,fr;q=0.9,en;q=0.8", "fr"),
        (None, "de-DE,en;q=0.5,fr;q=0.7", "fr"),
        (None, "de-DE", "en"),
        (None, None, "en"),
        (None, "en-GB;q=0.9,fr-CA", "fr"),
        ("en", "fr-FR", "en"),
        ("xx", "fr", "fr"),
        (None, "fr;q=abc,en", "en"),
    ],
)
def test_the_account_choice_wins_then_the_browser(
    account: str | None, header: str | None, language: str
) -> None:
    assert negotiate(account, header) == language


@pytest.mark.parametrize(
    ("language", "amount", "currency", "shown"),
    [
        ("fr", 1999, "EUR", "19,99\u00a0€"),
        ("en", 1999, "EUR", "€19.99"),
        ("en", 1999, "JPY", "¥1,999"),
        ("fr", 123456789, "EUR", "1\u202f234\u202f567,89\u00a0€"),
        ("en", -500, "USD", "-$5.00"),
    ],
)
def test_money_reads_as_each_language_writes_it(
    language: str, amount: int, currency: str, shown: str
) -> None:
    assert Formats(language).money(amount, currency) == shown


@given(st.integers(min_value=-(10**12), max_value=10**12))
def test_major_units_are_exact(amount: int) -> None:
    assert major_units(amount, "EUR") * 100 == amount
    assert major_units(amount, "JPY") == amount


def test_dates_follow_the_language() -> None:
    moment = datetime(2026, 12, 2, 18, 30, tzinfo=UTC)
    assert Formats("fr").date(moment) == "2 déc. 2026"
    assert Formats("en").date(moment) == "Dec 2, 2026"
