"""API key material: generation and hashing (pure).

Keys carry 256 bits of randomness, so a single SHA-256 is a sound storage
hash (no password stretching is needed for secrets that cannot be guessed),
and it lets authentication find the key with one indexed lookup.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

KEY_PREFIX = "pk_"
DISPLAY_PREFIX_LENGTH = 10


def generate_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def display_prefix(key: str) -> str:
    return key[:DISPLAY_PREFIX_LENGTH]


def hashes_match(stored_hash: str, key: str) -> bool:
    return hmac.compare_digest(stored_hash, hash_key(key))
