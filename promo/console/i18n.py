"""The console's languages: gettext catalogues and locale-aware formatting (Babel).

Catalogues are the ``.po`` files under ``locale/`` (the source of truth,
edited by translators), compiled in memory when the app starts, so no
compiled ``.mo`` file can drift from its ``.po``. The language of a page is
the account's choice, else the best match of the browser's Accept-Language,
else English. Money is formatted from integer minor units through
``Decimal`` (never a float), so ``1999`` EUR reads ``19,99 €`` in French and
``€19.99`` in English.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path

from babel import Locale, dates, numbers
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

from promo.money import CURRENCY_EXPONENTS

LOCALE_DIR = Path(__file__).parent / "locale"
LANGUAGES = ("en", "fr")
DEFAULT = "en"
DOMAIN = "messages"


def N_(message: str) -> str:
    """Mark a message written in Python for the catalogue; a template translates
    it where it shows it (``{{ _(label) }}``)."""
    return message


@cache
def translations(language: str) -> NullTranslations:
    """The compiled catalogue of ``language`` (English is the source: no catalogue)."""
    po = LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    if language == DEFAULT or not po.exists():
        return NullTranslations()
    with po.open("rb") as source:
        catalog = read_po(source, locale=language, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


def negotiate(account_choice: str | None, accept_language: str | None) -> str:
    """The page's language: the account's, else the browser's best supported one."""
    if account_choice in LANGUAGES:
        return account_choice
    wanted: list[tuple[float, str]] = []
    for position, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if tag:
            # Order by quality, then by position (stable for equal qualities).
            wanted.append((-quality + position * 1e-6, tag.replace("_", "-")))
    ordered = [tag for _, tag in sorted(wanted) if tag != "*"]
    found = Locale.negotiate(ordered, list(LANGUAGES), sep="-") if ordered else None
    return str(found) if found is not None else DEFAULT


def major_units(amount: int, currency: str) -> Decimal:
    """``amount`` minor units as an exact decimal of major units."""
    return Decimal(amount).scaleb(-CURRENCY_EXPONENTS.get(currency, 2))


@dataclass(frozen=True)
class Formats:
    """Formatting for one page in one language (templates call it as ``fmt``)."""

    language: str

    @property
    def locale(self) -> Locale:
        return Locale.parse(self.language)

    def money(self, amount: int | None, currency: str) -> str:
        if amount is None:
            return ""
        return numbers.format_currency(
            major_units(amount, currency), currency, locale=self.locale, currency_digits=True
        )

    def number(self, value: int | Decimal | None) -> str:
        return "" if value is None else numbers.format_decimal(value, locale=self.locale)

    def percent(self, value: Decimal | None) -> str:
        """``value`` in percent (``Decimal("12.5")`` reads 12.5 %)."""
        if value is None:
            return ""
        return numbers.format_percent(value / 100, "#,##0.##%", locale=self.locale)

    def date(self, value: date | datetime | None) -> str:
        return "" if value is None else dates.format_date(value, "medium", locale=self.locale)

    def datetime(self, value: datetime | None) -> str:
        if value is None:
            return ""
        return dates.format_datetime(value, "medium", tzinfo=value.tzinfo, locale=self.locale)

    def duration(self, value: timedelta | None) -> str:
        """``value`` as words (``30 days``, ``12 hours``), to its largest unit."""
        if value is None:
            return ""
        return dates.format_timedelta(value, threshold=1, locale=self.locale)


def minor_units(text: str, currency: str, language: str) -> int:
    """``text`` typed in major units in ``language`` (``19,99`` in French) as
    exact minor units; ValueError when it is not a number or has more decimal
    places than the currency."""
    try:
        value = numbers.parse_decimal(text, locale=language, strict=False)
    except numbers.NumberFormatError:
        raise ValueError("must be an amount such as 19.99") from None
    minor = value.scaleb(CURRENCY_EXPONENTS.get(currency, 2))
    if minor != minor.to_integral_value():
        raise ValueError(f"has more decimal places than {currency} allows")
    return int(minor)


def decimal_number(text: str, language: str) -> Decimal:
    try:
        return numbers.parse_decimal(text, locale=language, strict=False)
    except numbers.NumberFormatError:
        raise ValueError("must be a number") from None


def amount_text(amount: int | None, currency: str, language: str) -> str:
    """``amount`` minor units as a person types it back into a form (``19,99``)."""
    if amount is None:
        return ""
    places = CURRENCY_EXPONENTS.get(currency, 2)
    pattern = "0." + "0" * places if places else "0"
    return numbers.format_decimal(major_units(amount, currency), pattern, locale=language)


def decimal_text(value: Decimal | None, language: str) -> str:
    return "" if value is None else numbers.format_decimal(value, "0.##", locale=language)
