"""Marketers' campaigns: the list, the create and edit forms, pause, resume, archive.

The forms fill the API's ``CampaignCreate`` and ``CampaignPatch`` and go
through the same functions as POST and PATCH /v1/campaigns
(``promo.campaigns.routes.create`` and ``change``): the same rules, refusals,
pseudonymised allow-list and audit line.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from litestar import Request, Response, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from promo.auth.roles import Role
from promo.campaigns import routes as campaign_routes
from promo.campaigns import service
from promo.campaigns.routes import AutomaticCodeDep, ReleaseCodesDep
from promo.campaigns.schemas import (
    CampaignCreate,
    CampaignPatch,
    CampaignRead,
    DiscountSpec,
    Tiered,
)
from promo.campaigns.views import campaign_read
from promo.checkout import reservations
from promo.console import forms, i18n
from promo.console.forms import Field
from promo.console.pages.plans import plan_options
from promo.console.rendering import language_of, page
from promo.deps import Caller, ClockDep, DbSession, KeyringDep
from promo.errors import DomainError
from promo.ids import Kind, decode
from promo.schemas import decode_cursor, next_cursor

MARKETERS = {"roles": (Role.MARKETER,)}
PAGE_SIZE = 50
STATUSES = ("draft", "active", "paused", "archived")
DISCOUNT_TYPES = ("percentage", "fixed_amount", "free_shipping", "buy_x_get_y", "gift", "tiered")
ALLOCATIONS = ("across", "each")

# The form's fields, named by the API body's paths (promo.console.forms).
COMMON = [
    Field("name"),
    Field("currency"),
    Field("starts_at", "instant"),
    Field("ends_at", "instant"),
    Field("timezone"),
    Field("code_prefix"),
    Field("open_to_affiliates", "flag"),
    Field("affiliate_aliases", "flag"),
    Field("max_aliases_per_affiliate", "integer"),
]
ALLOCATION = [Field("discount.allocation"), Field("discount.max_quantity", "integer")]
DISCOUNT = {
    "percentage": [
        Field("discount.percent_off", "decimal"),
        Field("discount.max_discount", "money"),
        *ALLOCATION,
    ],
    "fixed_amount": [
        Field("discount.amount_off", "money"),
        Field("discount.currency"),
        *ALLOCATION,
    ],
    "free_shipping": [],
    "buy_x_get_y": [
        Field("discount.buy.skus", "lines"),
        Field("discount.buy.categories", "lines"),
        Field("discount.buy_quantity", "integer"),
        Field("discount.get.skus", "lines"),
        Field("discount.get.categories", "lines"),
        Field("discount.get_quantity", "integer"),
        Field("discount.percent_off", "decimal"),
        Field("discount.max_applications", "integer"),
    ],
    "gift": [
        Field("discount.sku"),
        Field("discount.threshold", "money"),
        Field("discount.quantity", "integer"),
    ],
    # The tiers are one box of lines (_tiers).
    "tiered": [],
}
TIERS = "discount.tiers"


def _tiers(text: str, currency: str, language: str) -> list[dict[str, Any]]:
    """Lines of ``threshold saving`` (``50.00 5.00``, ``100.00 15 %``) as the API's tiers."""
    tiers: list[dict[str, Any]] = []
    for line in text.splitlines():
        threshold, _, saving = line.strip().partition(" ")
        if not threshold:
            continue
        saving = saving.strip()
        try:
            tier: dict[str, Any] = {"threshold": i18n.minor_units(threshold, currency, language)}
            if saving.endswith("%"):
                tier["percent_off"] = str(i18n.decimal_number(saving[:-1].strip(), language))
            else:
                tier["amount_off"] = i18n.minor_units(saving, currency, language)
        except ValueError as exc:
            raise forms.FormErrors({TIERS: f"{line.strip()}: {exc}"}) from None
        tiers.append(tier)
    return tiers


def _tiers_text(discount: DiscountSpec, currency: str, language: str) -> str:
    if not isinstance(discount, Tiered):
        return ""
    return "\n".join(
        f"{i18n.amount_text(tier.threshold, currency, language)} "
        + (
            f"{i18n.decimal_text(tier.percent_off, language)} %"
            if tier.percent_off is not None
            else i18n.amount_text(tier.amount_off, currency, language)
        )
        for tier in discount.tiers
    )


SECTIONS = [
    Field("rules.min_subtotal", "money"),
    Field("rules.min_quantity", "integer"),
    Field("rules.include_skus", "lines"),
    Field("rules.include_categories", "lines"),
    Field("rules.exclude_skus", "lines"),
    Field("rules.exclude_categories", "lines"),
    Field("rules.first_order_only", "flag"),
    Field("limits.max_redemptions", "integer"),
    Field("limits.max_redemptions_per_customer", "integer"),
    Field("limits.budget", "money"),
    Field("commission.percent", "decimal"),
    Field("commission.fixed", "money"),
    Field("commission.plan_id"),
    Field("stacking.combines_with.order", "flag"),
    Field("stacking.combines_with.product", "flag"),
    Field("stacking.combines_with.shipping", "flag"),
    Field("stacking.exclusive", "flag"),
    Field("stacking.priority", "integer"),
]
ALLOW_LIST = Field("rules.customer_ids", "lines")
REFERRAL = [
    Field("referral.reward_campaign_id"),
    Field("referral.reward_credit", "money"),
    Field("referral.reward_valid_days", "integer"),
    Field("referral.max_rewards_per_referrer", "integer"),
    Field("referral.holding_days", "integer"),
]


def _document(form: dict[str, str], language: str, *, editing: bool) -> dict[str, Any]:
    """The API body the campaign form fills (the discount of the chosen type only)."""
    kind = form.get("discount.type", "percentage")
    if kind not in DISCOUNT:
        raise forms.FormErrors({"discount.type": f"must be one of {', '.join(DISCOUNT_TYPES)}"})
    currency = form.get("currency", "").strip().upper() or "EUR"
    timezone = form.get("timezone") or None

    def read(fields: list[Field], blank: forms.Blank = "omit") -> dict[str, Any]:
        return forms.read(
            form, fields, language=language, currency=currency, timezone=timezone, blank=blank
        )

    document = read([*COMMON, *SECTIONS], "null" if editing else "omit")
    program = form.get("kind", "standard") if not editing else form.get("_kind", "standard")
    if program == "referral":
        # The program's terms, replaced whole: what is left blank takes its default.
        terms = read(REFERRAL).get("referral", {})
        document["referral"] = {k: v for k, v in terms.items() if v is not None}
    if not editing:
        document["kind"] = program
        document["automatic"] = form.get("automatic") in ("on", "true", "1")
    document.update(read(DISCOUNT[kind]))
    document.setdefault("discount", {})["type"] = kind
    if kind == "tiered":
        document["discount"]["tiers"] = _tiers(form.get(TIERS, ""), currency, language)
    if form.get("currency"):
        document["currency"] = currency
    allow = read([ALLOW_LIST])  # blank on an edit: kept as it is
    if allow:
        document.setdefault("rules", {}).update(allow["rules"])
    if editing:
        for required in ("name", "currency", "starts_at", "max_aliases_per_affiliate"):
            if document.get(required) is None:
                document.pop(required, None)
    elif "status" in form:
        document["status"] = form["status"]
    return document


def _errors(exc: DomainError) -> dict[str, str]:
    """The refusal by form field: a tier's error beside the tiers' box."""
    return forms.folded(forms.errors_of(exc), [TIERS])


def _referral_form(campaign: CampaignRead, money: Any) -> dict[str, str]:
    terms = campaign.referral
    if terms is None:
        return {}
    return {
        "referral.reward_campaign_id": terms.reward_campaign_id or "",
        "referral.reward_credit": money(terms.reward_credit),
        "referral.reward_valid_days": str(terms.reward_valid_days),
        "referral.max_rewards_per_referrer": str(terms.max_rewards_per_referrer or ""),
        "referral.holding_days": str(terms.holding_days),
    }


def _local(value: datetime | None, timezone: str | None) -> str:
    if value is None:
        return ""
    zone = ZoneInfo(timezone) if timezone else UTC
    return value.astimezone(zone).strftime("%Y-%m-%dT%H:%M")


def form_of(campaign: CampaignRead, language: str) -> dict[str, Any]:
    """What the edit form shows: the campaign as a person typed it."""
    currency = campaign.currency

    def money(value: int | None) -> str:
        return i18n.amount_text(value, currency, language)

    discount = campaign.discount
    shown: dict[str, Any] = {
        "name": campaign.name,
        "currency": currency,
        "starts_at": _local(campaign.starts_at, campaign.timezone),
        "ends_at": _local(campaign.ends_at, campaign.timezone),
        "timezone": campaign.timezone or "",
        "code_prefix": campaign.code_prefix or "",
        "open_to_affiliates": campaign.open_to_affiliates,
        "affiliate_aliases": campaign.affiliate_aliases,
        "max_aliases_per_affiliate": str(campaign.max_aliases_per_affiliate),
        "discount.type": type(discount).__struct_config__.tag,
        "discount.percent_off": i18n.decimal_text(getattr(discount, "percent_off", None), language),
        "discount.max_discount": money(getattr(discount, "max_discount", None)),
        "discount.amount_off": money(getattr(discount, "amount_off", None)),
        "discount.currency": getattr(discount, "currency", None) or "",
        "discount.allocation": getattr(discount, "allocation", "across"),
        "discount.max_quantity": str(getattr(discount, "max_quantity", None) or ""),
        "discount.buy_quantity": str(getattr(discount, "buy_quantity", "")),
        "discount.get_quantity": str(getattr(discount, "get_quantity", "")),
        "discount.max_applications": str(getattr(discount, "max_applications", "")),
        "discount.sku": getattr(discount, "sku", ""),
        "discount.threshold": money(getattr(discount, "threshold", None)),
        "discount.quantity": str(getattr(discount, "quantity", "")),
        TIERS: _tiers_text(discount, currency, language),
        "rules.min_subtotal": money(campaign.rules.min_subtotal),
        "rules.min_quantity": str(campaign.rules.min_quantity or ""),
        "rules.first_order_only": campaign.rules.first_order_only,
        "limits.max_redemptions": str(campaign.limits.max_redemptions or ""),
        "limits.max_redemptions_per_customer": str(
            campaign.limits.max_redemptions_per_customer or ""
        ),
        "limits.budget": money(campaign.limits.budget),
        "commission.percent": i18n.decimal_text(campaign.commission.percent, language),
        "commission.fixed": money(campaign.commission.fixed),
        "commission.plan_id": campaign.commission.plan_id or "",
        "stacking.combines_with.order": campaign.stacking.combines_with.order,
        "stacking.combines_with.product": campaign.stacking.combines_with.product,
        "stacking.combines_with.shipping": campaign.stacking.combines_with.shipping,
        "stacking.exclusive": campaign.stacking.exclusive,
        "stacking.priority": str(campaign.stacking.priority),
        "_kind": campaign.kind,
        **_referral_form(campaign, money),
    }
    for name in ("include_skus", "include_categories", "exclude_skus", "exclude_categories"):
        shown[f"rules.{name}"] = "\n".join(getattr(campaign.rules, name))
    for part in ("buy", "get"):
        items = getattr(discount, part, None)
        shown[f"discount.{part}.skus"] = "\n".join(items.skus) if items else ""
        shown[f"discount.{part}.categories"] = "\n".join(items.categories) if items else ""
    return shown


@get("/campaigns", opt=MARKETERS)
async def campaign_list(
    request: Request[Any, Any, Any],
    session: DbSession,
    status: FromQuery[str | None] = None,
    cursor: FromQuery[str | None] = None,
) -> Template:
    chosen = status if status in STATUSES else None
    rows = await service.list_campaigns(
        session, status=chosen, after_id=decode_cursor(cursor), limit=PAGE_SIZE
    )
    more = next_cursor([c.id for c in rows], PAGE_SIZE)
    query = f"status={chosen}&" if chosen else ""
    return page(
        request,
        "campaigns/list.html",
        campaigns=[campaign_read(c) for c in rows],
        status=chosen,
        statuses=STATUSES,
        next_url=f"/console/campaigns?{query}cursor={more}" if more else None,
    )


async def _form(
    request: Request[Any, Any, Any],
    session: DbSession,
    campaign: CampaignRead | None,
    **context: Any,
) -> Template:
    """The create or edit form, with the commission plans to choose from."""
    return page(
        request,
        "campaigns/form.html",
        campaign=campaign,
        discount_types=DISCOUNT_TYPES,
        allocations=ALLOCATIONS,
        plan_options=await plan_options(session),
        **context,
    )


@get("/campaigns/new", opt=MARKETERS)
async def campaign_new(request: Request[Any, Any, Any], session: DbSession) -> Template:
    return await _form(
        request,
        session,
        None,
        form={"currency": "EUR", "discount.type": "percentage", "max_aliases_per_affiliate": "1"},
    )


@post("/campaigns/new", opt=MARKETERS)
async def campaign_create(
    request: Request[Any, Any, Any],
    session: DbSession,
    clock: ClockDep,
    principal: Caller,
    keyring: KeyringDep,
    automatic_code: AutomaticCodeDep,
) -> Response[Any]:
    form = await forms.submitted(request)
    try:
        data = forms.convert(_document(form, language_of(request), editing=False), CampaignCreate)
        created = await campaign_routes.create(
            session,
            data,
            principal=principal,
            keyring=keyring,
            automatic_code=automatic_code,
            now=clock(),
        )
    except DomainError as exc:
        return await _form(request, session, None, status_code=422, form=form, errors=_errors(exc))
    return Redirect(f"/console/campaigns/{created.id}?notice=created")


async def _campaign(session: DbSession, campaign_id: str) -> CampaignRead:
    return campaign_read(await service.get_campaign(session, decode(Kind.CAMPAIGN, campaign_id)))


@get("/campaigns/{campaign_id:str}", opt=MARKETERS)
async def campaign_detail(
    request: Request[Any, Any, Any], campaign_id: FromPath[str], session: DbSession
) -> Template:
    campaign = await _campaign(session, campaign_id)
    held = await reservations.held_count(session, decode(Kind.CAMPAIGN, campaign.id) or 0)
    return page(request, "campaigns/detail.html", campaign=campaign, held=held)


@get("/campaigns/{campaign_id:str}/edit", opt=MARKETERS)
async def campaign_edit(
    request: Request[Any, Any, Any], campaign_id: FromPath[str], session: DbSession
) -> Template:
    campaign = await _campaign(session, campaign_id)
    return await _form(request, session, campaign, form=form_of(campaign, language_of(request)))


@post("/campaigns/{campaign_id:str}/edit", opt=MARKETERS)
async def campaign_update(
    request: Request[Any, Any, Any],
    campaign_id: FromPath[str],
    session: DbSession,
    clock: ClockDep,
    principal: Caller,
    keyring: KeyringDep,
    release_codes: ReleaseCodesDep,
) -> Response[Any]:
    campaign = await _campaign(session, campaign_id)
    form = await forms.submitted(request)
    try:
        patch = forms.convert(_document(form, language_of(request), editing=True), CampaignPatch)
        await campaign_routes.change(
            session,
            decode(Kind.CAMPAIGN, campaign_id),
            patch,
            principal=principal,
            keyring=keyring,
            release_codes=release_codes,
            now=clock(),
        )
    except DomainError as exc:
        return await _form(
            request, session, campaign, status_code=422, form=form, errors=_errors(exc)
        )
    return Redirect(f"/console/campaigns/{campaign.id}?notice=saved")


STATUS_NOTICES = {"paused": "paused", "active": "resumed", "archived": "archived"}


@post("/campaigns/{campaign_id:str}/status", opt=MARKETERS)
async def campaign_status(
    request: Request[Any, Any, Any],
    campaign_id: FromPath[str],
    session: DbSession,
    clock: ClockDep,
    principal: Caller,
    keyring: KeyringDep,
    release_codes: ReleaseCodesDep,
) -> Response[Any]:
    """Pause, resume or archive: a PATCH of the status, refused as the API refuses it."""
    form = await forms.submitted(request)
    patch = forms.convert({"status": form.get("status", "")}, CampaignPatch)
    changed = await campaign_routes.change(
        session,
        decode(Kind.CAMPAIGN, campaign_id),
        patch,
        principal=principal,
        keyring=keyring,
        release_codes=release_codes,
        now=clock(),
    )
    notice = STATUS_NOTICES.get(changed.status, "saved")
    return Redirect(f"/console/campaigns/{changed.id}?notice={notice}")


HANDLERS: list[Any] = [
    campaign_list,
    campaign_new,
    campaign_create,
    campaign_detail,
    campaign_edit,
    campaign_update,
    campaign_status,
]
