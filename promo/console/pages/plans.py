"""Marketers' commission plans: the list, create, a plan's terms and revisions, edit.

The forms fill the API's ``CommissionPlanCreate``/``CommissionPlanPatch`` and
go through ``promo.plans.routes.create``/``change``. Amounts are typed in the
plan's currency (``2.50``), rates as percentages; category rates, tiers and
fees one per line: ``shoes 12``, ``10 7.5`` (from the 10th sale, or 10.00 of
revenue, 7.5%), ``lead 2.00``.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from promo.auth.roles import Role
from promo.console import forms, i18n
from promo.console.forms import Field
from promo.console.rendering import language_of, page
from promo.deps import Caller, ClockDep, DbSession
from promo.errors import DomainError
from promo.ids import Kind, require
from promo.plans import routes as plan_routes
from promo.plans import service
from promo.plans.routes import plan_read
from promo.plans.schemas import CommissionPlanCreate, CommissionPlanPatch, CommissionPlanRead
from promo.schemas import decode_cursor, next_cursor

MARKETERS = {"roles": (Role.MARKETER,)}
PAGE_SIZE = 50
BASES = [("sales", "sales"), ("revenue", "revenue")]
# The form's boxes, which the API's errors are shown beside.
BOXES = (
    "name",
    "currency",
    "timezone",
    "percent",
    "fixed",
    "category_rates",
    "tiers.levels",
    "bonus.threshold",
    "bonus.amount",
    "action_fees",
)


FIELDS = [Field("name"), Field("timezone"), Field("percent", "decimal"), Field("fixed", "money")]


async def plan_options(session: DbSession) -> list[tuple[str, str]]:
    """The plans a commission form offers (value, label), the first: none."""
    rows = await service.list_plans(session, after_id=None, limit=500)
    return [("", "")] + [(plan_read(p).id, f"{p.name} ({p.currency})") for p in rows]


def _threshold(basis: str, text: str, currency: str, language: str) -> int:
    if basis == "revenue":
        return i18n.minor_units(text, currency, language)
    try:
        return int(text)
    except ValueError:
        raise ValueError("must be a whole number of sales") from None


def _document(
    form: dict[str, str], language: str, *, editing: bool, currency: str
) -> dict[str, Any]:
    """The API document the form fills; a blank section is no section (cleared
    when editing)."""
    document = forms.read(
        form,
        FIELDS,
        language=language,
        currency=currency,
        blank="null" if editing else "omit",
    )
    if not editing:
        document["currency"] = form.get("currency", "").strip().upper()
        if not document.get("timezone"):
            document.pop("timezone", None)
    elif document.get("timezone") is None:
        document.pop("timezone", None)
    if document.get("name") is None:
        document.pop("name", None)
    document["category_rates"] = forms.pairs(
        form.get("category_rates", ""),
        "category_rates",
        lambda _, rate: i18n.decimal_number(rate, language),
    )
    document["action_fees"] = forms.pairs(
        form.get("action_fees", ""),
        "action_fees",
        lambda _, fee: i18n.minor_units(fee, currency, language),
    )
    basis = form.get("tiers.basis", "sales")
    levels = forms.pairs(
        form.get("tiers.levels", ""),
        "tiers.levels",
        lambda _, rate: i18n.decimal_number(rate, language),
    )
    errors: dict[str, str] = {}
    tiers: list[dict[str, Any]] = []
    for threshold, rate in levels.items():
        try:
            tiers.append(
                {"threshold": _threshold(basis, threshold, currency, language), "percent": rate}
            )
        except ValueError as exc:
            errors["tiers.levels"] = f"{threshold}: {exc}"
    document["tiers"] = {"basis": basis, "levels": tiers} if tiers else None
    bonus_threshold, bonus_amount = (
        form.get("bonus.threshold", "").strip(),
        form.get("bonus.amount", "").strip(),
    )
    document["bonus"] = None
    if bonus_threshold or bonus_amount:
        bonus_basis = form.get("bonus.basis", "sales")
        try:
            document["bonus"] = {
                "basis": bonus_basis,
                "threshold": _threshold(bonus_basis, bonus_threshold, currency, language),
                "amount": i18n.minor_units(bonus_amount, currency, language),
            }
        except ValueError as exc:
            errors["bonus.threshold"] = str(exc)
    if errors:
        raise forms.FormErrors(errors)
    if not editing:
        for name in ("tiers", "bonus"):
            if document[name] is None:
                del document[name]
    return document


def form_of(plan: CommissionPlanRead, language: str) -> dict[str, str]:
    currency = plan.currency

    def threshold_text(basis: str, value: int) -> str:
        return i18n.amount_text(value, currency, language) if basis == "revenue" else str(value)

    return {
        "name": plan.name,
        "currency": currency,
        "timezone": plan.timezone,
        "percent": i18n.decimal_text(plan.percent, language),
        "fixed": i18n.amount_text(plan.fixed, currency, language),
        "category_rates": "\n".join(
            f"{c} {i18n.decimal_text(r, language)}" for c, r in sorted(plan.category_rates.items())
        ),
        "action_fees": "\n".join(
            f"{k} {i18n.amount_text(v, currency, language)}"
            for k, v in sorted(plan.action_fees.items())
        ),
        "tiers.basis": plan.tiers.basis if plan.tiers else "sales",
        "tiers.levels": "\n".join(
            " ".join(
                (
                    threshold_text(plan.tiers.basis, t.threshold),
                    i18n.decimal_text(t.percent, language),
                )
            )
            for t in plan.tiers.levels
        )
        if plan.tiers
        else "",
        "bonus.basis": plan.bonus.basis if plan.bonus else "sales",
        "bonus.threshold": threshold_text(plan.bonus.basis, plan.bonus.threshold)
        if plan.bonus
        else "",
        "bonus.amount": i18n.amount_text(plan.bonus.amount, currency, language)
        if plan.bonus
        else "",
    }


def _errors(exc: DomainError) -> dict[str, str]:
    errors = forms.folded(forms.errors_of(exc), BOXES)
    if "tiers" in errors:  # the tiers as a whole (no levels): beside the levels' box
        errors.setdefault("tiers.levels", errors.pop("tiers"))
    if "bonus" in errors:
        errors.setdefault("bonus.threshold", errors.pop("bonus"))
    return errors


async def _list(
    request: Request[Any, Any, Any],
    session: DbSession,
    cursor: str | None,
    *,
    status_code: int = 200,
    **context: Any,
) -> Template:
    rows = await service.list_plans(session, after_id=decode_cursor(cursor), limit=PAGE_SIZE)
    more = next_cursor([p.id for p in rows], PAGE_SIZE)
    context.setdefault("form", {"currency": "EUR", "timezone": "UTC"})
    return page(
        request,
        "plans/list.html",
        status_code=status_code,
        plans=[plan_read(p) for p in rows],
        bases=BASES,
        next_url=f"/console/plans?cursor={more}" if more else None,
        **context,
    )


@get("/plans", opt=MARKETERS)
async def plan_list(
    request: Request[Any, Any, Any], session: DbSession, cursor: FromQuery[str | None] = None
) -> Template:
    return await _list(request, session, cursor)


@post("/plans", opt=MARKETERS)
async def plan_create(
    request: Request[Any, Any, Any], session: DbSession, clock: ClockDep, principal: Caller
) -> Response[Any]:
    form = await forms.submitted(request)
    currency = form.get("currency", "").strip().upper() or "EUR"
    try:
        document = _document(form, language_of(request), editing=False, currency=currency)
        data = forms.convert(document, CommissionPlanCreate)
        created = await plan_routes.create(session, data, principal=principal, now=clock())
    except DomainError as exc:
        return await _list(request, session, None, status_code=422, form=form, errors=_errors(exc))
    return Redirect(f"/console/plans/{created.id}?notice=created")


async def _detail(
    request: Request[Any, Any, Any],
    session: DbSession,
    plan: CommissionPlanRead,
    *,
    status_code: int = 200,
    **context: Any,
) -> Template:
    revisions = await service.list_revisions(session, require(Kind.COMMISSION_PLAN, plan.id))
    context.setdefault("form", form_of(plan, language_of(request)))
    return page(
        request,
        "plans/detail.html",
        status_code=status_code,
        plan=plan,
        revisions=[plan_routes.revision_read(r) for r in reversed(revisions)],
        bases=BASES,
        **context,
    )


@get("/plans/{plan_id:str}", opt=MARKETERS)
async def plan_detail(
    request: Request[Any, Any, Any], plan_id: FromPath[str], session: DbSession
) -> Template:
    plan = await service.get_plan(session, require(Kind.COMMISSION_PLAN, plan_id))
    return await _detail(request, session, plan_read(plan))


@post("/plans/{plan_id:str}", opt=MARKETERS)
async def plan_update(
    request: Request[Any, Any, Any],
    plan_id: FromPath[str],
    session: DbSession,
    clock: ClockDep,
    principal: Caller,
) -> Response[Any]:
    form = await forms.submitted(request)
    target = require(Kind.COMMISSION_PLAN, plan_id)
    plan = plan_read(await service.get_plan(session, target))
    try:
        document = _document(form, language_of(request), editing=True, currency=plan.currency)
        data = forms.convert(document, CommissionPlanPatch)
        await plan_routes.change(session, target, data, principal=principal, now=clock())
    except DomainError as exc:
        return await _detail(
            request, session, plan, status_code=422, form=form, errors=_errors(exc)
        )
    return Redirect(f"/console/plans/{plan_id}?notice=saved")


HANDLERS: list[Any] = [plan_list, plan_create, plan_detail, plan_update]
