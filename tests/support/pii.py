"""The refs tests expect: what the default keyring (the settings' development
key, used by every test app unless it sets its own) makes of an identity."""

from __future__ import annotations

from promo.pii import DEV_PII_KEY, Keyring

KEYRING = Keyring.parse(DEV_PII_KEY)


def ref(keyed: str) -> str:
    """The ref of ``id:<id>`` or ``email:<canonical e-mail>`` under the default key."""
    return KEYRING.current.ref_of(keyed)
