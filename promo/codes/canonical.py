"""The one canonical form of a code, used for every lookup, uniqueness check and count.

Trimmed, upper-cased, separators (space, '-', '_') removed, and the
characters people confuse folded: O -> 0, I and L -> 1. So ``summer-2o``,
``SUMMER 20`` and ``Summer_2O`` are all ``SUMMER20``. Only ASCII letters and
digits are allowed, so look-alike letters from other scripts cannot create
a second code that reads the same.
"""

from __future__ import annotations

import re

MIN_LENGTH = 3
MAX_LENGTH = 32
# The display form may carry separators; bound it too.
MAX_DISPLAY_LENGTH = 64
SEPARATORS = " -_"
CANONICAL_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTUVWXYZ"

_FOLD = str.maketrans({"O": "0", "I": "1", "L": "1"})
_REMOVE_SEPARATORS = str.maketrans("", "", SEPARATORS)
_ALLOWED = re.compile(r"^[A-Za-z0-9 _-]*$")


class InvalidCode(ValueError):
    """The text cannot be a code; the message says why."""


def canonical(text: str) -> str:
    """The canonical form of ``text``; ``InvalidCode`` when it cannot be a code."""
    display = text.strip()
    if len(display) > MAX_DISPLAY_LENGTH:
        raise InvalidCode(f"at most {MAX_DISPLAY_LENGTH} characters")
    if not _ALLOWED.match(display):
        raise InvalidCode("only letters A-Z, digits, spaces, '-' and '_' are allowed")
    form = display.translate(_REMOVE_SEPARATORS).upper().translate(_FOLD)
    if not MIN_LENGTH <= len(form) <= MAX_LENGTH:
        raise InvalidCode(
            f"{MIN_LENGTH} to {MAX_LENGTH} letters or digits (separators not counted)"
        )
    return form


def fold_charset(chars: str) -> str:
    """An explicit charset in canonical characters, deduplicated, order kept."""
    folded = chars.upper().translate(_REMOVE_SEPARATORS).translate(_FOLD)
    return "".join(dict.fromkeys(folded))
