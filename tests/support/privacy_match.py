"""Finding a customer's e-mail or id in clear: the matching rules of the privacy scan.

The privacy scan (tests/support/privacy_scan.py) collects the identities the
tests send and looks for them in what the service kept or showed. Refs and
tombstones (promo.pii: ``<key id>:<43 base64url chars>``, ``erased:<43>``) are
random-looking text, so the rules are shaped so that no ref can match:

- an e-mail is found where its text occurs, case-insensitively, as sent, in
  its canonical form (promo.identity.canonical_email) or percent-encoded, and
  not inside a longer address (``anna@x.test`` is not in ``joanna@x.test``).
  E-mails contain ``@`` and refs never do;
- a customer id is found where a whole value equals it (a database cell, a
  JSON string or object key, a CSV cell, a log field), or equals ``id:<id>``
  or ends in ``:id:<id>`` (the clear customer keys of the first version);
  in free text (log messages, non-JSON bodies, exception texts) where a word
  equals it, after refs and e-mail addresses are cut out, words being
  delimited by white space and punctuation (``:`` included, ``-`` ``_``
  ``.`` ``+`` not). An id of six characters or more is also found as a
  substring with no letter, digit or ``_`` on either side (``shopper-1`` is
  not in ``shopper-10``);
- not looked for: texts that are not e-mails (``"a"``, ``"@@@"``: refused
  with a 422 and never stored; an answer may well quote them) and blank ids;
  an e-mail that is an affiliate's contact address (kept in clear by design;
  compared canonically);
- not looked in: a value that is exactly what a request sent in another
  field (a campaign named ``c1``, an order id, a note), nor such a word in
  free text: that field keeps what it is given. The same text stored where
  the identity goes (``id:c1``) is still found.
"""

from __future__ import annotations

import csv
import io
import json
import re
import string
from collections.abc import Iterable, Iterator, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

from promo.identity import NotAnEmail, canonical_email

EMAIL_KEYS = frozenset({"customer_email"})
ID_KEYS = frozenset({"customer_id"})
ID_LIST_KEYS = frozenset({"customer_ids"})
# Where an affiliate's contact e-mail is written (POST, PATCH, PUT).
AFFILIATE_PATHS = re.compile(r"^/v1/(affiliates(/[^/]+)?|me)/?$")
LONG_ID = 6

REF = re.compile(r"(?<![A-Za-z0-9_-])(?:[a-z0-9]{1,8}|erased):[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])")
ANY_EMAIL = re.compile(r"[^\s\"'<>,;()\[\]{}=]+@[^\s\"'<>,;()\[\]{}=]+")
WORD_DELIMITERS = re.compile(r"[^A-Za-z0-9_.+@-]+")
CLEAR_KEY = re.compile(r"(?<![A-Za-z0-9_])id:([A-Za-z0-9_.+@-]+)")


def email_of(text: str) -> str | None:
    """The canonical form of ``text`` when it is an e-mail address, else None."""
    if "@" not in text:
        return None
    try:
        return canonical_email(text)
    except NotAnEmail:
        return None


@dataclass(frozen=True)
class Email:
    sent: str  # as the test sent it, stripped
    canonical: str

    def needles(self) -> set[str]:
        forms = {self.sent.lower(), self.canonical}
        return forms | {quote(form, safe="").lower() for form in forms}


@dataclass
class Identities:
    """What requests carried: customer e-mails and ids, affiliates' e-mails, other values."""

    emails: dict[str, Email] = field(default_factory=dict)
    ids: set[str] = field(default_factory=set)
    affiliate_emails: set[str] = field(default_factory=set)  # canonical
    other_values: set[str] = field(default_factory=set)
    other_addresses: set[str] = field(default_factory=set)  # those with an "@", lower-case

    def __bool__(self) -> bool:
        return bool(self.emails or self.ids)

    def update(self, other: Identities) -> None:
        self.emails.update(other.emails)
        self.ids |= other.ids
        self.affiliate_emails |= other.affiliate_emails
        self.other_values |= other.other_values
        self.other_addresses |= other.other_addresses

    def add_email(self, value: object) -> None:
        if isinstance(value, str) and (canonical := email_of(value)) is not None:
            self.emails[value.strip()] = Email(value.strip(), canonical)

    def add_id(self, value: object) -> None:
        if isinstance(value, str) and value.strip():
            self.ids.add(value.strip())
            # An id spelled as an address is looked for as an address too.
            self.add_email(value)

    def add_other(self, value: object) -> None:
        if isinstance(value, str) and value.strip():
            self.other_values.add(value.strip())
            if "@" in value:
                self.other_addresses.add(value.strip().lower())

    def add_answer(self, body: bytes) -> None:
        """What a test's receiver answered promo: the body, and each string of its JSON."""
        text = body.decode("utf-8", "replace")
        self.add_other(text)
        try:
            tree = json.loads(text)
        except (ValueError, RecursionError):
            return
        for value in _strings(tree):
            self.add_other(value)

    def add_request(
        self, method: str, url: str, body: bytes, content_type: str, headers: Mapping[str, str]
    ) -> None:
        """The identities of one request: its query string and JSON or form body."""
        parts = urlsplit(url)
        for segment in parts.path.split("/"):
            self.add_other(segment)
        for name, value in headers.items():
            if name.lower() not in {"authorization", "cookie", "host", "content-length"}:
                self.add_other(value)
        self._add_tree(dict(parse_qsl(parts.query, keep_blank_values=True)))
        if not body:
            return
        tree: Any = None
        if "form-urlencoded" in content_type:
            tree = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        else:
            try:
                tree = json.loads(body)
            except (ValueError, RecursionError):  # not JSON, or nested too deep to read
                return
        self._add_tree(tree)
        if method in {"POST", "PATCH", "PUT"} and AFFILIATE_PATHS.match(parts.path):
            address = tree.get("email") if isinstance(tree, dict) else None
            if isinstance(address, str) and (canonical := email_of(address)) is not None:
                self.affiliate_emails.add(canonical)

    def _add_tree(self, tree: Any) -> None:
        stack: list[tuple[str | None, Any]] = [(None, tree)]
        while stack:
            key, node = stack.pop()
            if isinstance(node, dict):
                stack.extend((str(name), value) for name, value in node.items())
            elif isinstance(node, list):
                for value in node:
                    if key in ID_LIST_KEYS:
                        self.add_id(value)
                    else:
                        stack.append((key, value))
            elif key in EMAIL_KEYS:
                self.add_email(node)
            elif key in ID_KEYS:
                self.add_id(node)
            elif key not in ID_LIST_KEYS:
                self.add_other(node)

    def matcher(self, affiliate_emails: Iterable[str] = ()) -> Matcher:
        """A matcher of the identities, less the affiliates' e-mails (see the module docstring)."""
        exempt = self.affiliate_emails | set(affiliate_emails)
        return Matcher(
            [e for e in self.emails.values() if e.canonical not in exempt],
            [i for i in self.ids if not _exempt_address(i, exempt)],
            others=self.other_values,
            other_addresses=self.other_addresses,
        )


def _word_at(text: str, index: int) -> bool:
    return 0 <= index < len(text) and text[index] in WORD_CHARS


def _occurs_alone(text: str, identity: str) -> bool:
    """``identity`` occurs in ``text`` with no word character on either side."""
    at = text.find(identity)
    while at >= 0:
        if not _word_at(text, at - 1) and not _word_at(text, at + len(identity)):
            return True
        at = text.find(identity, at + 1)
    return False


def _exempt_address(text: str, exempt: set[str]) -> bool:
    canonical = email_of(text)
    return canonical is not None and canonical in exempt


# An address-like run: the longest local part and domain around an "@" (or "%40").
ADDRESS = re.compile(r"[\w.%+!#$&'*/=?^`{|}~-]+(?:@|%40)[\w-]+(?:\.[\w-]+)*", re.IGNORECASE)
# Where a local part may start inside an address-like run ("=ana@x", "'ana@x").
LOCAL_STARTS = frozenset("!#$&'*/=?^`{|}~")
WORD_RUN = re.compile(r"[A-Za-z0-9_]+")
WORD_CHARS = frozenset(string.ascii_letters + string.digits + "_")


class Matcher:
    """Finds identities in values and texts; each ``in_*`` returns the identities found
    (an e-mail as it was sent, an id as it was sent, stripped).

    Thousands of identities are matched against every cell of a database, so
    nothing here is a loop over the identities: addresses and words are cut
    out of the text and looked up."""

    def __init__(
        self,
        emails: Iterable[Email],
        ids: Iterable[str],
        *,
        others: AbstractSet[str] = frozenset(),
        other_addresses: AbstractSet[str] = frozenset(),
    ) -> None:
        self.ids = frozenset(ids)
        self._others = others  # values sent in other fields: not looked in
        self._other_addresses = other_addresses
        self._emails = list(emails)
        self._by_needle: dict[str, str] = {}
        for email in self._emails:
            for needle in email.needles():
                self._by_needle.setdefault(needle, email.sent)
        # Ids by their first run of word characters: an id occurs in a text only
        # where that run does (``narrowed``); long ids are tried where one starts.
        self._by_first: dict[str, list[str]] = {}
        self._long: dict[str, list[str]] = {}
        self._unanchored: list[str] = []  # ids that do not start with a word character
        for identity in self.ids:
            first = WORD_RUN.match(identity)
            if first is None:
                self._unanchored.append(identity)
                continue
            self._by_first.setdefault(first.group(), []).append(identity)
            if len(identity) >= LONG_ID:
                self._long.setdefault(first.group(), []).append(identity)
        self._odd = [i for i in self._unanchored if len(i) >= LONG_ID]

    def narrowed(self, text: str) -> Matcher:
        """A matcher of only the identities that may occur in ``text`` (say every
        cell of a column, joined): a cheap first pass over a large store."""
        runs = set(WORD_RUN.findall(text))
        ids = [i for run in runs & self._by_first.keys() for i in self._by_first[run]]
        if "\\u" in text:  # JSON escapes: an address may be spelled out of sight
            emails = self._emails
        elif self._by_needle and ("@" in text or "%40" in text):
            present = self._in_addresses(text)
            emails = [e for e in self._emails if e.sent in present]
        else:
            emails = []
        return Matcher(
            emails,
            ids + self._unanchored,
            others=self._others,
            other_addresses=self._other_addresses,
        )

    def __bool__(self) -> bool:
        return bool(self._by_needle or self.ids)

    def describe(self, found: str) -> str:
        return f"id {found!r}" if found in self.ids else f"e-mail {found!r}"

    def _in_addresses(self, text: str, skip: AbstractSet[str] = frozenset()) -> set[str]:
        found: set[str] = set()
        for match in ADDRESS.finditer(text):
            run = match.group().lower()
            if run in skip:
                continue
            starts = [0] + [i + 1 for i, char in enumerate(run) if char in LOCAL_STARTS]
            for start in starts:
                if (sent := self._by_needle.get(run[start:].rstrip("."))) is not None:
                    found.add(sent)
        return found

    def _in_text(self, text: str, skip: AbstractSet[str] = frozenset()) -> set[str]:
        """E-mails anywhere; long ids as substrings (outside refs and addresses)."""
        found: set[str] = set()
        if self._by_needle and ("@" in text or "%40" in text):
            found |= self._in_addresses(text, skip)
        if self._long or self._odd:
            bare = ANY_EMAIL.sub(" ", REF.sub(" ", text)) if ":" in text or "@" in text else text
            for run in WORD_RUN.finditer(bare):
                for identity in self._long.get(run.group(), ()):
                    if bare.startswith(identity, run.start()) and not _word_at(
                        bare, run.start() + len(identity)
                    ):
                        found.add(identity)
            found |= {identity for identity in self._odd if _occurs_alone(bare, identity)}
        return found

    def _equal(self, text: str) -> set[str]:
        value = text.strip()
        if value in self.ids:
            return {value}
        head, sep, tail = value.rpartition("id:")
        if sep and (head == "" or head.endswith(":")) and tail in self.ids:
            return {tail}
        return set()

    def in_value(self, value: str) -> set[str]:
        """A whole value: a cell, a JSON string, a CSV cell, a log field."""
        if not self or value.strip() in self._others:
            return set()
        found = self._in_text(value) | self._equal(value)
        if value.lstrip()[:1] in {"{", "["}:
            try:
                found |= self.in_json(json.loads(value))
            except (ValueError, RecursionError):
                pass
        return found

    def in_words(self, text: str) -> set[str]:
        """Free text: a log message, an exception, a page."""
        if not self:
            return set()
        found = self._in_text(text, self._other_addresses)
        if self.ids:
            bare = ANY_EMAIL.sub(" ", REF.sub(" ", text))
            words = {w.rstrip(".") for w in WORD_DELIMITERS.split(bare)}
            found |= (words & self.ids) - self._others
            # After "id:" a word is a clear customer key, whatever else was sent.
            found |= {w.rstrip(".") for w in CLEAR_KEY.findall(bare)} & self.ids
        return found

    def in_json(self, tree: Any) -> set[str]:
        found: set[str] = set()
        for text in _strings(tree):
            found |= self.in_value(text)
        return found

    def in_cell(self, value: object) -> set[str]:
        """A database value as the driver returns it."""
        if isinstance(value, bytes | bytearray | memoryview):
            value = bytes(value).decode("utf-8", "replace")
        if isinstance(value, str):
            return self.in_value(value)
        if isinstance(value, dict | list | tuple):
            return self.in_json(value)
        return set()

    def in_csv(self, text: str) -> set[str]:
        found: set[str] = set()
        for row in csv.reader(io.StringIO(text)):
            for cell in row:
                found |= self.in_value(cell)
        return found

    def in_body(self, content: bytes, content_type: str) -> set[str]:
        """A response body: JSON walked, CSV cell by cell, anything else as text."""
        if not self or not content:
            return set()
        text = content.decode("utf-8", "replace")
        if "json" in content_type:
            try:
                return self.in_json(json.loads(text))
            except (ValueError, RecursionError):
                pass
        if "csv" in content_type:
            return self.in_csv(text)
        return self.in_words(text)


def _strings(tree: Any) -> Iterator[str]:
    """Every string of a JSON tree: values and object keys (no recursion: trees may be deep)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            yield node
        elif isinstance(node, dict):
            for key, value in node.items():
                if isinstance(key, str):
                    yield key
                stack.append(value)
        elif isinstance(node, list | tuple):
            stack.extend(node)
