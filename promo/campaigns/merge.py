"""JSON merge patch (RFC 7396) of one section of a campaign: rules, limits, commission.

A PATCH that sends ``{"limits": {"budget": 5000}}`` means "change the
budget", not "replace every limit with the defaults but the budget". So a
section's patch Struct has the section's fields, each ``UNSET`` unless sent:
an absent key keeps the stored value, ``null`` removes the member (the field
goes back to its default: no bound, an empty list, false), any other value
replaces it. Lists are replaced whole, as RFC 7396 says.

Pure: the service applies it to what is stored, then checks the result.
"""

from __future__ import annotations

from typing import TypeVar

import msgspec
from msgspec import NODEFAULT, UNSET

S = TypeVar("S", bound=msgspec.Struct)


def default_of(section: type[msgspec.Struct], name: str) -> object:
    """The value field ``name`` of ``section`` has when it is not given."""
    field = next(f for f in msgspec.structs.fields(section) if f.name == name)
    if field.default_factory is not NODEFAULT:
        return field.default_factory()
    if field.default is NODEFAULT:
        raise TypeError(f"{section.__name__}.{name} has no default: it cannot be removed")
    return field.default


def merge(current: S, patch: msgspec.Struct | None) -> S:
    """``current`` with ``patch`` merged in; a ``None`` patch (the section sent as
    ``null``) resets the whole section to its defaults."""
    if patch is None:
        return type(current)()
    changes: dict[str, object] = {}
    for field in msgspec.structs.fields(patch):
        value = getattr(patch, field.name)
        if value is UNSET:
            continue
        changes[field.name] = default_of(type(current), field.name) if value is None else value
    return msgspec.structs.replace(current, **changes)
