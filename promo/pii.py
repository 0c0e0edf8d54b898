"""Keyed hashes of personal data: how promo stores who a customer is.

A customer's e-mail and id are never stored; what is stored is a *ref*:
HMAC-SHA256 of the identity under the operator's PII key, written
``<key id>:<43 characters of base64url>``. The same identity under the same
key always gives the same ref, so limits and first orders count on refs as
they would on the clear text, and nobody without the key can tell whose ref
it is, or test a guessed e-mail against one.

Rotation: the key named by ``PROMO_PII_KEY`` writes every new ref; the keys in
``PROMO_PII_RETIRED_KEYS`` are only read, so that what a customer did under an
earlier key still counts (``Keyring.versions``: the current ref first, then one
per retired key). Nothing is rewritten when the key changes (a ref cannot be
turned back into its identity, so it cannot be re-hashed): the retired keys
stay in the keyring as long as their refs matter, which for a lifetime
per-customer limit is for ever.

Sealing: where promo must give an identity back as it was given (the list of
customers a code batch was issued to, for the mailing tool's download), it
keeps it sealed, AES-256-GCM under a key derived from the PII key, written
``<key id>:<base64url nonce and ciphertext>``; only the holder of the key
reads it, and a sealed value whose key left the keyring reads as nothing.

Erasure replaces a ref by a *tombstone* (``erased:<random>``), which no
identity hashes to: the rows, counters and totals stay, the person is gone.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

import msgspec
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

# Used only on the embedded SQLite default, so `promo serve` works on a bare
# machine. PostgreSQL deployments must set their own PROMO_PII_KEY.
DEV_PII_KEY = "dev:promo-insecure-development-pii-key"
DEFAULT_KEY_ID = "1"
MIN_SECRET_LENGTH = 32
KEY_ID = re.compile(r"^[a-z0-9]{1,8}$")
TOMBSTONE_PREFIX = "erased:"
# Keeps sealing keys apart from ref keys (a ref never helps to open a seal).
SEAL_CONTEXT = b"promo seal v1"
NONCE_BYTES = 12
# A ref or a tombstone as the API shows it (customer_ref) and accepts it back.
REF_PATTERN = r"^[a-z0-9]{1,8}:[A-Za-z0-9_-]{43}$"


class PiiKeyError(ValueError):
    """A PII key written wrong; the message says how."""


class PiiKey(msgspec.Struct, frozen=True):
    key_id: str
    secret: bytes

    def ref(self, kind: str, value: str) -> str:
        return self.ref_of(f"{kind}:{value}")

    def ref_of(self, keyed: str) -> str:
        """The ref of ``<kind>:<value>``: the text the first version stored in clear."""
        digest = hmac.new(self.secret, keyed.encode(), hashlib.sha256).digest()
        return f"{self.key_id}:{base64.urlsafe_b64encode(digest).rstrip(b'=').decode()}"

    def _sealer(self) -> AESGCM:
        return AESGCM(hmac.new(self.secret, SEAL_CONTEXT, hashlib.sha256).digest())

    def seal(self, text: str, purpose: bytes) -> str:
        """``text`` encrypted (and authenticated with ``purpose``, where it is kept)."""
        nonce = secrets.token_bytes(NONCE_BYTES)
        sealed = nonce + self._sealer().encrypt(nonce, text.encode(), purpose)
        return f"{self.key_id}:{base64.urlsafe_b64encode(sealed).decode()}"

    def unseal(self, sealed: str, purpose: bytes) -> str | None:
        """What ``seal`` sealed, or None when it was sealed otherwise or tampered with."""
        try:
            raw = base64.urlsafe_b64decode(sealed.partition(":")[2])
            plain = self._sealer().decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], purpose)
        except (ValueError, InvalidTag):
            return None
        return plain.decode()


def parse_key(text: str, *, default_id: str | None = DEFAULT_KEY_ID) -> PiiKey:
    """``ID:SECRET`` (or a bare ``SECRET`` when ``default_id`` is given)."""
    key_id, sep, secret = text.strip().partition(":")
    if not sep or not KEY_ID.match(key_id):
        if default_id is None:
            raise PiiKeyError("expected ID:SECRET (ID: 1 to 8 lower-case letters or digits)")
        key_id, secret = default_id, text.strip()
    if key_id == TOMBSTONE_PREFIX.rstrip(":"):
        raise PiiKeyError(f"the key id {key_id!r} is reserved")
    if len(secret) < MIN_SECRET_LENGTH:
        raise PiiKeyError(f"the secret must be at least {MIN_SECRET_LENGTH} characters")
    return PiiKey(key_id=key_id, secret=secret.encode())


class Keyring(msgspec.Struct, frozen=True):
    """The key that writes refs, and the retired ones that are still read."""

    current: PiiKey
    retired: tuple[PiiKey, ...] = ()

    @classmethod
    def parse(cls, current: str, retired: str = "") -> Keyring:
        """``PROMO_PII_KEY`` and ``PROMO_PII_RETIRED_KEYS`` (comma-separated ID:SECRET)."""
        key = parse_key(current)
        old = tuple(parse_key(part, default_id=None) for part in retired.split(",") if part.strip())
        ids = [key.key_id, *(k.key_id for k in old)]
        if len(set(ids)) != len(ids):
            raise PiiKeyError("every key needs its own id")
        return cls(current=key, retired=old)

    def ref(self, kind: str, value: str) -> str:
        """The ref written now for ``kind`` (``id``, ``email``) ``value``."""
        return self.current.ref(kind, value)

    def versions(self, kind: str, value: str) -> tuple[str, ...]:
        """Every ref the identity may be stored under: the current one first."""
        return (self.current.ref(kind, value), *(k.ref(kind, value) for k in self.retired))

    def seal(self, text: str, purpose: bytes) -> str:
        """``text`` sealed under the current key (see the module's docstring)."""
        return self.current.seal(text, purpose)

    def unseal(self, sealed: str, purpose: bytes) -> str | None:
        """``sealed`` opened with the key it names, if the keyring still holds it."""
        key_id = sealed.partition(":")[0]
        for key in (self.current, *self.retired):
            if key.key_id == key_id:
                return key.unseal(sealed, purpose)
        return None


def tombstone() -> str:
    """A stand-in for an erased ref: unique, and no identity hashes to it."""
    return TOMBSTONE_PREFIX + secrets.token_urlsafe(32)[:43]


def is_tombstone(ref: str) -> bool:
    return ref.startswith(TOMBSTONE_PREFIX)
