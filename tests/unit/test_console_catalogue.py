"""The French catalogue of the console translates every message of the code.

The messages are extracted the way ``pybabel extract -F babel.cfg -k N_`` does
(the Python of ``promo/console`` and its Jinja2 templates), so a new ``_()`` in a
template or ``N_()`` in Python without a French translation fails here.

To update the catalogue, from the repository's root::

    pybabel extract -F babel.cfg -k N_ --no-location --sort-output -o /tmp/messages.pot . \\
        && pybabel update -i /tmp/messages.pot -d promo/console/locale --no-fuzzy-matching

then translate the new entries (empty ``msgstr``) in
``promo/console/locale/fr/LC_MESSAGES/messages.po``, keeping every
``%(name)s`` placeholder.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = ROOT / "promo" / "console" / "locale" / "fr" / "LC_MESSAGES" / "messages.po"
KEYWORDS = {**DEFAULT_KEYWORDS, "N_": None}
# A printf-style conversion: %(name)s, %s, %%, ... (a stray % is one too).
PLACEHOLDER = re.compile(r"%(?:\([^)]*\))?[#0 +-]*\d*(?:\.\d+)?[a-zA-Z%]?")

Msgid = str | tuple[str, ...]


@cache
def extracted() -> dict[str, tuple[Msgid, str]]:
    """Each message of the code by its key (the singular), with where it is first."""
    with (ROOT / "babel.cfg").open(encoding="utf-8") as config:
        method_map, options_map = parse_mapping_cfg(config, "babel.cfg")  # type: ignore[no-untyped-call]
    found: dict[str, tuple[Msgid, str]] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        ROOT, method_map, options_map, keywords=KEYWORDS
    ):
        key = message[0] if isinstance(message, tuple) else message
        if key:
            found.setdefault(key, (message, f"{filename}:{lineno}"))
    return found


@cache
def catalogue() -> Catalog:
    with CATALOGUE.open("rb") as source:
        return read_po(source, locale="fr", domain="messages")


def placeholders(text: str) -> set[str]:
    return set(PLACEHOLDER.findall(text))


def forms(value: object) -> tuple[str, ...]:
    """A msgid or msgstr as its forms (one, or one per plural form)."""
    if isinstance(value, str):
        return (value,)
    if isinstance(value, tuple | list):
        return tuple(form or "" for form in value)
    return ()


def test_the_extraction_finds_the_console_messages() -> None:
    found = extracted()
    assert "Sign in" in found
    assert "Campaigns" in found  # marked with N_ in Python
    assert isinstance(found["%(num)s sale"][0], tuple)  # a plural


def test_every_message_has_a_french_translation() -> None:
    french = catalogue()
    missing = []
    for key, (message, where) in sorted(extracted().items()):
        entry = french.get(message)
        strings = forms(entry.string) if entry is not None else ()
        if not strings or not all(form.strip() for form in strings):
            missing.append(f"{key!r} ({where})")
    assert not missing, f"{len(missing)} message(s) without a French translation:\n" + "\n".join(
        missing
    )


def test_translations_keep_the_placeholders() -> None:
    wrong = []
    for entry in catalogue():
        if not entry.id or not entry.string:
            continue
        ids = forms(entry.id)
        for index, string in enumerate(forms(entry.string)):
            # The first form translates the singular, the others the plural.
            source = ids[min(index, len(ids) - 1)]
            if string and placeholders(string) != placeholders(source):
                wrong.append(f"{source!r} -> {string!r}")
    assert not wrong, "placeholders differ:\n" + "\n".join(wrong)


def test_no_translation_is_fuzzy() -> None:
    french = catalogue()
    fuzzy = [repr(entry.id) for entry in french if entry.id and entry.fuzzy]
    assert not french.fuzzy, "the catalogue's header is marked fuzzy"
    assert not fuzzy, "fuzzy entries (check them, then remove the flag):\n" + "\n".join(fuzzy)


def test_the_catalogue_has_french_plural_forms() -> None:
    french = catalogue()
    assert french.num_plurals == 2
    assert french.plural_expr.replace(" ", "") == "(n>1)"


def test_every_status_kind_and_role_the_pages_show_is_a_message() -> None:
    """Values of the data the templates translate (``_(campaign.status)``)."""
    from typing import get_args, get_type_hints

    from promo.audit import ACTORS
    from promo.auth.roles import Role
    from promo.campaigns.schemas import Status
    from promo.checkout.schemas import RedemptionRead, ReservationRead
    from promo.codes.batch_schemas import BatchStatus
    from promo.codes.schemas import CodeKind
    from promo.console import words
    from promo.ledger.schemas import EntryRead, Kind

    marked = {word for group in vars(words).values() if isinstance(group, tuple) for word in group}
    shown = {role.value for role in Role} | set(ACTORS)
    for values in (Status, BatchStatus, CodeKind, Kind):
        shown |= set(get_args(values))
    for schema in (RedemptionRead, ReservationRead, EntryRead):
        shown |= set(get_args(get_type_hints(schema)["status"]))
    assert shown - marked == set()
    assert marked <= set(extracted())
