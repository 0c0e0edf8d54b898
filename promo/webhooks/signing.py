"""Standard Webhooks signatures, by its library (``standardwebhooks``).

A secret is ``whsec_`` and 32 random bytes in base64, as the specification
writes them. A delivery is signed over ``<webhook-id>.<webhook-timestamp>.<body>``
with HMAC-SHA256 (``v1,<base64>``); after a rotation it carries one
signature per secret still valid, space-separated, and a receiver accepts it
when any of them matches (the library's ``verify`` does).
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Sequence
from datetime import datetime
from math import floor

from standardwebhooks import Webhook

SECRET_PREFIX = "whsec_"  # noqa: S105 (the format's prefix, not a secret)
SECRET_BYTES = 32


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def headers(
    event_id: str, body: str, signing_secrets: Sequence[str], *, at: datetime
) -> dict[str, str]:
    """The three headers of a delivery of ``body`` as event ``event_id`` sent ``at``."""
    signature = " ".join(Webhook(s).sign(event_id, at, body) for s in signing_secrets)
    return {
        "webhook-id": event_id,
        "webhook-timestamp": str(floor(at.timestamp())),
        "webhook-signature": signature,
    }
