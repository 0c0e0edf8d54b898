"""Code patterns: parsing, charsets, the pattern's space, and fast unbiased generation.

A pattern such as ``SUM-####-####`` has literal characters and slots (``#``),
each filled with one random character of a charset. Everything here is pure
(no I/O) so that unit and property tests cover it directly.

Two rules keep generated codes consistent with every other code:

- Charsets hold only canonical characters (``promo.codes.canonical``), so a
  generated code is already in canonical form apart from its literal part,
  and the literal part must canonicalise cleanly.
- The space of a pattern is counted on its canonical form: ``SUM-####`` and
  ``SUM####`` are the same codes, hence the same space and the same budget of
  guessable codes.

Generation draws random bytes in bulk from the OS's cryptographic source and
maps them to charset characters with rejection sampling: a byte is kept only
below the largest multiple of the charset size, so every character is exactly
equally likely (``secrets.choice`` per character would be correct too, but
about 40x slower). The mapping runs in C (``bytes.translate``), and codes are
assembled with strided slice assignment, so a million codes take well under a
second.
"""

from __future__ import annotations

import math
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

from promo.codes.canonical import (
    CANONICAL_ALPHABET,
    MAX_DISPLAY_LENGTH,
    MAX_LENGTH,
    MIN_LENGTH,
    SEPARATORS,
    fold_charset,
)

SLOT = "#"
PRESETS: dict[str, str] = {
    # No 0/O, 1/I/L: nothing a reader can confuse.
    "safe": "23456789ABCDEFGHJKMNPQRSTUVWXYZ",
    "digits": "0123456789",
    "letters": "ABCDEFGHJKMNPQRSTUVWXYZ",
    # Every canonical character (0 and 1 stand for O and I/L).
    "alphanumeric": CANONICAL_ALPHABET,
}
MIN_CHARSET_SIZE = 2
# Rows of the generated buffer: "display<TAB>canonical<LF>", PostgreSQL COPY text.
COLUMN_SEPARATOR = "\t"
ROW_SEPARATOR = "\n"

_PATTERN_CHARS = re.compile(r"^[A-Za-z0-9 _#-]*$")
_CHARSET_CHARS = re.compile(r"^[A-Za-z0-9 _-]*$")
_FOLD = str.maketrans({"O": "0", "I": "1", "L": "1"})
_REMOVE_SEPARATORS = str.maketrans("", "", SEPARATORS)

RandomBytes = Callable[[int], bytes]


class PatternError(ValueError):
    """The pattern or charset cannot be used; ``field`` names which, the message says why."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Charset:
    """``name`` is the preset name, or the canonical characters themselves."""

    name: str
    chars: str

    @property
    def size(self) -> int:
        return len(self.chars)


@dataclass(frozen=True)
class Pattern:
    """A parsed pattern: ``display`` as typed (trimmed), ``canonical`` as counted."""

    display: str
    canonical: str
    charset: Charset

    @property
    def slots(self) -> int:
        return self.canonical.count(SLOT)

    @property
    def space(self) -> int:
        """How many distinct codes the pattern can produce."""
        space: int = self.charset.size**self.slots
        return space


def parse_charset(text: str) -> Charset:
    """A preset name, or explicit characters canonicalised and deduplicated.

    Preset names are lower case and explicit charsets are stored upper case,
    so the two never read the same (``"digits"`` is the preset).
    """
    if text in PRESETS:
        return Charset(text, PRESETS[text])
    if not _CHARSET_CHARS.match(text):
        raise PatternError(
            "charset",
            f"a preset ({', '.join(PRESETS)}) or letters and digits",
        )
    chars = fold_charset(text)
    if len(chars) < MIN_CHARSET_SIZE:
        raise PatternError(
            "charset",
            f"at least {MIN_CHARSET_SIZE} distinct characters after folding (O=0, I=L=1)",
        )
    return Charset(chars, chars)


def canonical_pattern(text: str) -> str:
    """The canonical form of a pattern's text, slots kept (``sum-####`` -> ``SUM####``)."""
    return text.strip().translate(_REMOVE_SEPARATORS).upper().translate(_FOLD)


def parse_pattern(text: str, charset: Charset) -> Pattern:
    """Check a pattern; ``PatternError`` naming ``pattern`` when it cannot make valid codes."""
    display = text.strip()
    if not _PATTERN_CHARS.match(display):
        raise PatternError(
            "pattern", "only letters A-Z, digits, spaces, '-', '_' and '#' (a random character)"
        )
    if len(display) > MAX_DISPLAY_LENGTH:
        raise PatternError("pattern", f"at most {MAX_DISPLAY_LENGTH} characters")
    form = canonical_pattern(display)
    if SLOT not in form:
        raise PatternError("pattern", "needs at least one '#' (a random character)")
    if not MIN_LENGTH <= len(form) <= MAX_LENGTH:
        raise PatternError(
            "pattern",
            f"codes must have {MIN_LENGTH} to {MAX_LENGTH} letters or digits "
            f"(separators not counted); this one has {len(form)}",
        )
    return Pattern(display=display, canonical=form, charset=charset)


def max_count(space: int, existing: int, ratio: Fraction) -> int:
    """The largest number of new codes keeping (existing + new) / space <= ratio.

    Exact arithmetic: spaces reach 33**32, far beyond a float's precision.
    """
    return max(0, math.floor(space * ratio) - existing)


def rejection_limit(size: int) -> int:
    """Bytes below this limit are kept; ``byte % size`` is then uniform over ``size``."""
    if not 1 <= size <= 256:
        raise ValueError("charset size must be 1..256")
    return 256 - 256 % size


def _translation(chars: str) -> tuple[bytes, bytes]:
    """The byte -> character table and the rejected bytes, for ``bytes.translate``."""
    size = len(chars)
    limit = rejection_limit(size)
    encoded = chars.encode("ascii")
    table = bytes(encoded[b % size] if b < limit else 0 for b in range(256))
    return table, bytes(range(limit, 256))


def random_chars(chars: str, n: int, random_bytes: RandomBytes = secrets.token_bytes) -> bytes:
    """``n`` characters of ``chars``, each uniformly and independently drawn (ASCII)."""
    table, rejected = _translation(chars)
    accept = rejection_limit(len(chars)) / 256
    out = bytearray()
    while len(out) < n:
        missing = n - len(out)
        # Enough draws for the expected rejections, plus a little slack.
        drawn = random_bytes(math.ceil(missing / accept * 1.02) + 16)
        out += drawn.translate(table, rejected)
    return bytes(out[:n])


def generate_rows(
    pattern: Pattern, count: int, random_bytes: RandomBytes = secrets.token_bytes
) -> bytes:
    """``count`` random codes as ``display<TAB>canonical<LF>`` rows (PostgreSQL COPY text).

    Codes are built column by column: a buffer of ``count`` copies of the row
    template, whose every slot position is assigned all at once by a strided
    slice. Codes are not deduplicated here: the database is the judge.
    """
    if count <= 0:
        return b""
    slots = pattern.slots
    drawn = random_chars(pattern.charset.chars, count * slots, random_bytes)
    template = f"{pattern.display}{COLUMN_SEPARATOR}{pattern.canonical}{ROW_SEPARATOR}"
    width = len(template)
    display_slots = [i for i, c in enumerate(pattern.display) if c == SLOT]
    offset = len(pattern.display) + len(COLUMN_SEPARATOR)
    canonical_slots = [offset + i for i, c in enumerate(pattern.canonical) if c == SLOT]
    buffer = bytearray(template.encode("ascii") * count)
    for slot in range(slots):
        column = drawn[slot::slots]
        buffer[display_slots[slot] :: width] = column
        buffer[canonical_slots[slot] :: width] = column
    return bytes(buffer)


def parse_rows(rows: bytes) -> list[tuple[str, str]]:
    """``(display, canonical)`` pairs of a buffer made by ``generate_rows``."""
    pairs: list[tuple[str, str]] = []
    for line in rows.decode("ascii").splitlines():
        display, _, form = line.partition(COLUMN_SEPARATOR)
        pairs.append((display, form))
    return pairs


def matcher(pattern: Pattern) -> re.Pattern[str]:
    """A regular expression matching exactly the canonical codes of ``pattern``."""
    slot = f"[{re.escape(pattern.charset.chars)}]"
    return re.compile("".join(slot if c == SLOT else re.escape(c) for c in pattern.canonical))
