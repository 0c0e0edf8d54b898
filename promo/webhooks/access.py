"""Which roles may subscribe to which events: the one statement of the rule.

A webhook hands its receiver what the event carries, so a role subscribes to
the events of its own work and no other:

- ``admin``: every event;
- ``marketer``: the activity of campaigns, codes and checkouts
  (``redemption.*``, ``conversion.*``, ``referral.*``, ``code_batch.*``,
  ``campaign.budget_threshold``);
- ``accountant``: the money events, whose payloads are the ledger's
  (``payout.created`` a payout, ``commission.available`` a ledger entry: what
  only accountants and admins read through the API), and ``redemption.*``
  and ``conversion.*`` (each one writes a ledger entry; accountants read them).

A subscription is acted on (changed, enabled or disabled, its secret rotated,
its events redelivered) only by a role that may subscribe to every event it
carries: a marketer can neither point an accountant's payout subscription at
another URL nor take its secret. Reading subscriptions and their delivery log
is open to every role that has webhooks (the log holds the receivers'
answers, not the events).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import get_args

from promo.auth.roles import Role
from promo.errors import FieldError, Forbidden
from promo.webhooks.schemas import EventName

EVENTS: tuple[str, ...] = get_args(EventName)
_REDEMPTIONS = ("redemption.created", "redemption.refunded", "redemption.rolled_back")
# Like redemptions, each writes a ledger entry.
_CONVERSIONS = ("conversion.created", "conversion.rejected")

EVENTS_OF: dict[Role, frozenset[str]] = {
    Role.ADMIN: frozenset(EVENTS),
    Role.MARKETER: frozenset(
        (
            *_REDEMPTIONS,
            *_CONVERSIONS,
            "referral.rewarded",
            "referral.revoked",
            "code_batch.completed",
            "code_batch.failed",
            "campaign.budget_threshold",
        )
    ),
    Role.ACCOUNTANT: frozenset(
        (*_REDEMPTIONS, *_CONVERSIONS, "payout.created", "commission.available")
    ),
}
# The roles that have the webhook routes at all (the others get 403 ``forbidden``).
ROLES = tuple(role for role in EVENTS_OF if role is not Role.ADMIN)
CODE = "webhook_event_forbidden"


def allowed(role: Role) -> list[str]:
    """The events ``role`` may subscribe to, in the API's order."""
    mine = EVENTS_OF.get(role, frozenset())
    return [event for event in EVENTS if event in mine]


def describe() -> str:
    """The rule in words, for the API document."""
    return "; ".join(
        f"{role.value}: {'every event' if role is Role.ADMIN else ', '.join(allowed(role))}"
        for role in EVENTS_OF
    )


def _roles_of(event: str) -> list[str]:
    return [role.value for role, events in EVENTS_OF.items() if event in events]


def _refusal(role: Role, event: str, detail: str, errors: Sequence[FieldError]) -> Forbidden:
    return Forbidden(
        CODE,
        detail,
        errors=errors,
        extra={"event": event, "role": role.value, "allowed_events": allowed(role)},
    )


def check_events(role: Role, events: Sequence[str]) -> None:
    """403 ``webhook_event_forbidden`` naming the first event of the request's
    ``events`` that ``role`` may not subscribe to (each one in ``errors``)."""
    mine = EVENTS_OF.get(role, frozenset())
    refused = [(i, event) for i, event in enumerate(events) if event not in mine]
    if not refused:
        return
    errors = [
        FieldError(f"events[{i}]", f"the {role.value} role may not subscribe to {event}")
        for i, event in refused
    ]
    detail = f"{errors[0].field}: {errors[0].message}"
    raise _refusal(role, refused[0][1], detail, errors)


def check_subscription(role: Role, events: Sequence[str]) -> None:
    """403 ``webhook_event_forbidden`` when the subscription carries an event
    ``role`` may not subscribe to: that role may not act on it."""
    mine = EVENTS_OF.get(role, frozenset())
    for event in events:
        if event not in mine:
            raise _refusal(
                role,
                event,
                f"This subscription carries {event}, which the {role.value} role may not "
                f"subscribe to: only {' or '.join(_roles_of(event))} keys may act on it",
                (),
            )
