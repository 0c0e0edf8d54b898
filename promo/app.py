"""The application factory: plugins, controllers, dependencies and the error map."""

from __future__ import annotations

import os
from typing import Any

from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.plugins.prometheus import PrometheusController
from litestar.static_files import create_static_files_router
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from swagger_ui_bundle import swagger_ui_path  # type: ignore[import-untyped]

from promo import __version__, job_kinds
from promo.affiliates.routes import AffiliateController, MeController
from promo.api_document import CompletedJsonRenderPlugin
from promo.audit_routes import list_audit
from promo.auth.guards import provide_principal
from promo.auth.middleware import PUBLIC_PATHS, ApiKeyAuthentication
from promo.auth.routes import KeyController, current_key
from promo.campaigns.routes import CampaignController
from promo.checkout.reservation_routes import ReservationController
from promo.checkout.routes import (
    RedemptionController,
    create_qualification,
    create_validation,
    my_redemptions,
)
from promo.checkout.throttle import Limit, MemoryStore, RedisStore, Throttle
from promo.clock import Clock, utc_now
from promo.codes.automatic import provide_automatic_code
from promo.codes.batch_routes import CampaignCodeBatchController, CodeBatchController
from promo.codes.dedicated_routes import AffiliateCodeController, MyCodeController
from promo.codes.imports_routes import CodeImportController
from promo.codes.routes import CampaignCodeController, CodeController
from promo.codes.service import provide_release_codes
from promo.console.rendering import template_config
from promo.console.router import console_router
from promo.conversions.routes import ConversionController, my_conversions
from promo.customers.routes import CustomerController
from promo.db import models as every_table  # noqa: F401 (foreign keys resolve across domains)
from promo.db.autocommit import AsyncpgAutocommit, Autocommit, SessionAutocommit
from promo.db.engine import (
    create_engine,
    create_read_sessionmaker,
    create_sessionmaker,
)
from promo.db.session import provide_session, provide_unit
from promo.deps import provide_clock, provide_keyring
from promo.errors import problem_details_plugin
from promo.health import HealthController
from promo.jobs.inprocess import AppJobs
from promo.jobs.routes import JobController
from promo.ledger.payout_routes import get_payout, list_payouts, preview_payouts
from promo.ledger.routes import (
    LedgerController,
    commission_report,
    my_earnings,
    run_payouts,
)
from promo.observability import request_id_middleware, stamp_response
from promo.plans.routes import CommissionPlanController
from promo.referrals.routes import ReferralController
from promo.reports.counting import Flusher, ValidationCounter
from promo.reports.routes import performance_report
from promo.settings import Settings
from promo.webhooks.routes import WebhookController

ROUTE_HANDLERS: list[Any] = [
    HealthController,
    KeyController,
    current_key,
    CampaignController,
    CampaignCodeController,
    CodeController,
    CampaignCodeBatchController,
    CodeBatchController,
    CodeImportController,
    create_validation,
    create_qualification,
    RedemptionController,
    ReservationController,
    my_redemptions,
    LedgerController,
    run_payouts,
    preview_payouts,
    list_payouts,
    get_payout,
    commission_report,
    performance_report,
    my_earnings,
    CommissionPlanController,
    ConversionController,
    my_conversions,
    ReferralController,
    AffiliateController,
    AffiliateCodeController,
    MeController,
    MyCodeController,
    list_audit,
    CustomerController,
    JobController,
    WebhookController,
]


def build_throttle(settings: Settings) -> Throttle:
    store: MemoryStore | RedisStore = (
        RedisStore(settings.redis_url) if settings.redis_url else MemoryStore()
    )
    limits = [
        Limit("customer", settings.throttle_failures_per_customer),
        Limit("ip", settings.throttle_failures_per_ip),
        # The checkout's key is shared by all its shoppers: a signal, not a refusal.
        Limit("key", settings.throttle_failures_per_key, refuses=False),
        # An affiliate probing for taken aliases is one partner: refused past it.
        Limit("affiliate", settings.throttle_failures_per_key),
    ]
    if settings.throttle_key_hard_cap is not None:
        limits.append(Limit("key", settings.throttle_key_hard_cap, counter="key"))
    return Throttle(
        store,
        limits,
        settings.throttle_window_seconds,
        slowdown_seconds=settings.throttle_key_slowdown_ms / 1000,
    )


def build_sign_in_throttle(settings: Settings, throttle: Throttle) -> Throttle:
    """Failed console sign-ins per account and per address, in the same store
    as the checkout's counters (Redis when configured: shared by every host)."""
    limits = [
        Limit("sign_in_account", settings.console_sign_in_failures_per_account),
        Limit("sign_in_address", settings.console_sign_in_failures_per_address),
    ]
    return Throttle(throttle.store, limits, settings.console_sign_in_window_seconds)


def build_autocommit(
    settings: Settings, bind: AsyncEngine | AsyncConnection
) -> tuple[Autocommit, Autocommit]:
    """(reads, writes) of single statements: one asyncpg pool for both on a
    PostgreSQL engine; SQLAlchemy sessions otherwise (SQLite: deferred
    transactions for reads, ``BEGIN IMMEDIATE`` ones for writes, the only way
    there to write without risking a failed lock upgrade; a test's single
    connection for both)."""
    if isinstance(bind, AsyncEngine) and bind.dialect.name == "postgresql":
        fast = AsyncpgAutocommit(settings)
        return fast, fast
    name = bind.dialect.name
    return (
        SessionAutocommit(create_read_sessionmaker(bind), name),
        SessionAutocommit(create_sessionmaker(bind), name),
    )


# Swagger UI's scripts and styles, served by promo from the swagger-ui-bundle
# package: /schema works behind a firewall, nothing is loaded from a CDN.
SCHEMA_ASSETS = "/schema/assets"


def schema_assets() -> Any:
    return create_static_files_router(
        path=SCHEMA_ASSETS, directories=[swagger_ui_path], include_in_schema=False
    )


def openapi_config() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="promo",
        version=__version__,
        description="Promo code issuance and redemption service. "
        "Authenticate with `Authorization: Bearer <api-key>`.",
        path="/schema",
        render_plugins=[
            SwaggerRenderPlugin(
                path=["/", "/swagger"],
                js_url=f"{SCHEMA_ASSETS}/swagger-ui-bundle.js",
                css_url=f"{SCHEMA_ASSETS}/swagger-ui.css",
                standalone_preset_js_url=f"{SCHEMA_ASSETS}/swagger-ui-standalone-preset.js",
                favicon=f"<link rel='icon' href='{SCHEMA_ASSETS}/favicon-32x32.png'>",
            ),
            CompletedJsonRenderPlugin(),
        ],
        components=Components(
            security_schemes={
                "apiKey": SecurityScheme(type="http", scheme="bearer", description="API key")
            }
        ),
        security=[{"apiKey": []}],
        use_handler_docstrings=True,
    )


def create_app(
    settings: Settings,
    *,
    engine: AsyncEngine | None = None,
    connection: AsyncConnection | None = None,
    clock: Clock = utc_now,
) -> Litestar:
    """Build the app. Tests may pass their engine, or one connection whose
    outer transaction they roll back, and a clock they control."""
    throttle = build_throttle(settings)
    owns_engine = engine is None
    engine = engine or create_engine(settings)
    bind = connection if connection is not None else engine
    sessionmaker = create_sessionmaker(bind)
    jobs = AppJobs(
        job_kinds.worker(settings, bind, clock), in_process=settings.runs_jobs_in_process
    )
    reads, writes = build_autocommit(settings, bind)
    validation_counts = ValidationCounter()
    flusher = Flusher(validation_counts, sessionmaker, settings.report_flush_seconds)

    async def dispose_engine() -> None:
        if isinstance(throttle.store, RedisStore):
            await throttle.store.close()
        if isinstance(reads, AsyncpgAutocommit):
            await reads.close()
        if owns_engine:
            await engine.dispose()

    return Litestar(
        route_handlers=[
            *ROUTE_HANDLERS,
            PrometheusController,
            schema_assets(),
            console_router(settings),
        ],
        state=State(
            {
                "settings": settings,
                "engine": engine,
                "sessionmaker": sessionmaker,
                "reads": reads,
                "writes": writes,
                "clock": clock,
                "keyring": settings.keyring,
                "throttle": throttle,
                "sign_in_throttle": build_sign_in_throttle(settings, throttle),
                "jobs": jobs,
                "validation_counts": validation_counts,
            }
        ),
        dependencies={
            "session": Provide(provide_session),
            "unit": Provide(provide_unit),
            "clock": Provide(provide_clock, sync_to_thread=False),
            "keyring": Provide(provide_keyring, sync_to_thread=False),
            "principal": Provide(provide_principal, sync_to_thread=False),
            "release_codes": Provide(provide_release_codes, sync_to_thread=False),
            "automatic_code": Provide(provide_automatic_code, sync_to_thread=False),
        },
        middleware=[
            request_id_middleware,
            DefineMiddleware(ApiKeyAuthentication, exclude=PUBLIC_PATHS),
        ],
        before_send=[stamp_response],
        plugins=[problem_details_plugin()],
        openapi_config=openapi_config(),
        template_config=template_config(),
        request_max_body_size=settings.max_body_bytes,
        # The in-process worker (SQLite by default) starts with the app and gives
        # its jobs back, to be resumed, before the engine goes. Validation counts
        # are flushed every few seconds, and a last time before the engine goes.
        on_startup=[jobs.startup, flusher.start],
        on_shutdown=[jobs.shutdown, flusher.stop, dispose_engine],
        logging_config=None,
        debug=False,
    )


def app_from_environment() -> Litestar:
    """Factory used by each server worker process: settings from PROMO_*."""
    from promo.observability import configure_logging
    from promo.settings import load_settings

    settings = load_settings(os.environ)
    configure_logging(settings)
    return create_app(settings)
