"""Names of what handlers receive by dependency injection, declared once.

Handlers write ``session: DbSession`` rather than relying on inferred
dependencies (deprecated in Litestar 2.23, gone in 3.0).
"""

from __future__ import annotations

from typing import Annotated

from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import HeaderParameter, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from promo.auth.roles import Principal
from promo.clock import Clock
from promo.db.autocommit import Unit
from promo.pii import Keyring
from promo.schemas import DEFAULT_LIMIT, MAX_LIMIT

DbSession = NamedDependency[AsyncSession]
# Parameter name ``unit``: the transaction of the checkout's hot path (provide_unit).
TxUnit = NamedDependency[Unit]
ClockDep = NamedDependency[Clock]
Caller = NamedDependency[Principal]
# The PII keyring (promo.pii), built once from the settings.
KeyringDep = NamedDependency[Keyring]


def provide_clock(state: State) -> Clock:
    """The app's clock (``ClockDep``); tests freeze it."""
    clock: Clock = state.clock
    return clock


def provide_keyring(state: State) -> Keyring:
    """The app's PII keyring (``KeyringDep``)."""
    keyring: Keyring = state.keyring
    return keyring


IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(
        name="Idempotency-Key",
        required=False,
        description="Required: at most 255 characters; a retry with the same key and body "
        "replays the first response. Scoped to the API key that sends it.",
    ),
]
PageLimit = Annotated[
    int, QueryParameter(ge=1, le=MAX_LIMIT, description=f"Page size (default {DEFAULT_LIMIT})")
]
PageCursor = Annotated[
    str | None, QueryParameter(max_length=64, description="next_cursor of the previous page")
]
