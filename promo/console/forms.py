"""Console forms read into the API's own schemas.

A form's fields are named by the JSON path of the API body they fill
(``limits.budget``, ``discount.percent_off``), so a form is read into the
same document a client would send, converted by msgspec into the same
Struct, and checked by the same service: every rule and every message is
the API's. Errors, whichever step finds them, come back keyed by that path
and are shown beside the field of that name.

What a form adds is only what people type: amounts in major units as their
language writes them (``19,99``), percentages, lists one per line, a date and
time in the campaign's timezone, checkboxes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec
from litestar import Request

from promo.console import i18n
from promo.errors import DomainError, FieldError, Invalid, decoded_field_error

T = TypeVar("T")
Kind = Literal["text", "integer", "money", "decimal", "flag", "lines", "instant"]
# A blank field: left out of the document (the API's default) or null (cleared).
Blank = Literal["omit", "null"]


class FormErrors(Invalid):
    """What a person typed that cannot be read (``19,9x`` for an amount): a
    refusal like the service's own, by field, answered 422 like the API's."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        detail = "; ".join(f"{field}: {message}" for field, message in errors.items())
        super().__init__(
            "validation_failed",
            detail,
            errors=[FieldError(field, message) for field, message in errors.items()],
        )


@dataclass(frozen=True)
class Field:
    name: str
    kind: Kind = "text"


async def submitted(request: Request[Any, Any, Any]) -> dict[str, str]:
    """The submitted form's fields as text (a repeated field: its last value)."""
    return {key: str(value) for key, value in (await request.form()).items()}


def _place(payload: dict[str, Any], path: str, value: Any) -> None:
    *sections, last = path.split(".")
    for section in sections:
        payload = payload.setdefault(section, {})
    payload[last] = value


def _instant(text: str, timezone: str | None) -> str:
    try:
        local = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError("must be a date and time such as 2026-06-01T09:00") from None
    if local.tzinfo is None:
        try:
            zone = ZoneInfo(timezone) if timezone else UTC
        except (ZoneInfoNotFoundError, ValueError):
            zone = UTC  # the service names the bad timezone itself
        local = local.replace(tzinfo=zone)
    return local.isoformat()


def _value(field: Field, text: str, *, language: str, currency: str, timezone: str | None) -> Any:
    if field.kind == "integer":
        try:
            return int(text)
        except ValueError:
            raise ValueError("must be a whole number") from None
    if field.kind == "money":
        return i18n.minor_units(text, currency, language)
    if field.kind == "decimal":
        return i18n.decimal_number(text, language)
    if field.kind == "lines":
        return [item.strip() for item in text.replace(",", "\n").splitlines() if item.strip()]
    if field.kind == "instant":
        return _instant(text, timezone)
    return text


def read(
    form: Mapping[str, str],
    fields: Sequence[Field],
    *,
    language: str,
    currency: str = "EUR",
    timezone: str | None = None,
    blank: Blank = "omit",
) -> dict[str, Any]:
    """The API document ``form`` fills. A blank field is left out (the API's
    default applies) or, for an edit, sent as ``null`` (cleared)."""
    payload: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for field in fields:
        text = str(form.get(field.name, "")).strip()
        if field.kind == "flag":
            _place(payload, field.name, text in ("on", "true", "1"))
            continue
        if not text:
            if blank == "null":
                _place(payload, field.name, None)
            continue
        try:
            value = _value(field, text, language=language, currency=currency, timezone=timezone)
        except ValueError as exc:
            errors[field.name] = str(exc)
            continue
        _place(payload, field.name, value)
    if errors:
        raise FormErrors(errors)
    return payload


def pairs(text: str, field: str, value_of: Callable[[str, str], Any]) -> dict[str, Any]:
    """Lines of ``key value`` (``EUR 50.00``, ``shoes 12``) as a mapping, each
    value read by ``value_of(key, text)``; a line that cannot be read is
    refused by ``field``, quoting it."""
    found: dict[str, Any] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        key, _, value = line.strip().partition(" ")
        try:
            found[key] = value_of(key, value.strip())
        except ValueError as exc:
            raise FormErrors({field: f"{line.strip()}: {exc}"}) from None
    return found


def convert(payload: Mapping[str, Any], schema: type[T]) -> T:
    """``payload`` as the API's ``schema``, or its first error by field."""
    try:
        return msgspec.convert(payload, schema)
    except msgspec.ValidationError as exc:
        error = decoded_field_error(exc)
        raise FormErrors({error.field: error.message}) from None


def errors_of(exc: DomainError) -> dict[str, str]:
    """A service's refusal by field (the whole form when it names none)."""
    if exc.errors:
        return {error.field: error.message for error in exc.errors}
    return {"": exc.detail}


def folded(errors: Mapping[str, str], names: Sequence[str]) -> dict[str, str]:
    """``errors`` keyed by the form field each is about: the API names a part of
    a field (``tiers.levels[1].threshold``, ``category_rates.shoes``) that a
    form types in one box (``tiers.levels``)."""
    shown: dict[str, str] = {}
    for path, message in errors.items():
        owner = max(
            (n for n in names if path == n or path.startswith((f"{n}.", f"{n}["))),
            key=len,
            default=path,
        )
        shown.setdefault(owner, message)
    return shown
