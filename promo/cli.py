"""`promo`: serve, db upgrade, keys, codes generate, demo, openapi.

Every command reads the settings once; a bad setting or an expected failure
ends the command with one line on stderr, never a traceback.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from sqlalchemy.ext.asyncio import AsyncSession

from promo import audit
from promo.auth import service as keys_service
from promo.auth.roles import Role
from promo.auth.schemas import KeyCreate
from promo.clock import utc_now
from promo.db import migrate
from promo.db import models as every_table  # noqa: F401 (foreign keys resolve across domains)
from promo.db.engine import create_engine, create_sessionmaker
from promo.errors import DomainError
from promo.ids import Kind, decode, encode
from promo.settings import Settings, SettingsError, load_settings

T = TypeVar("T")
DEFAULT_OPENAPI_PATH = Path("openapi/openapi.json")
KEEP_ALIVE_SECONDS = 75
DEMO_CART = (
    '{"code": "summer-20", "customer_email": "demo.shopper@example.net", '
    '"cart": {"currency": "EUR", "shipping": 490, '
    '"items": [{"sku": "TSHIRT-1", "quantity": 2, "unit_price": 2500}]}}'
)


def _fail(message: str, code: int = 1) -> None:
    click.echo(f"promo: {message}", err=True)
    sys.exit(code)


def _settings(**overrides: str) -> Settings:
    environ = dict(os.environ)
    environ.update({f"PROMO_{k.upper()}": v for k, v in overrides.items() if v is not None})
    try:
        return load_settings(environ)
    except SettingsError as exc:
        _fail(str(exc), 2)
        raise  # unreachable; keeps type checkers content


def _in_transaction(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run ``work`` in one committed transaction on a short-lived engine."""

    async def run() -> T:
        engine = create_engine(settings)
        try:
            async with create_sessionmaker(engine)() as session, session.begin():
                return await work(session)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(run())
    except DomainError as exc:
        _fail(exc.detail)
        raise


def _ensure_schema(settings: Settings) -> None:
    """SQLite is migrated on start; PostgreSQL must be migrated by the operator."""
    if settings.is_sqlite:
        migrate.upgrade(settings)
        return

    async def pending() -> list[str]:
        engine = create_engine(settings)
        try:
            return await migrate.pending_revisions(engine)
        finally:
            await engine.dispose()

    try:
        revisions = asyncio.run(pending())
    except (OSError, Exception) as exc:  # connection refused, bad credentials, ...
        _fail(f"cannot reach the database: {exc.__class__.__name__}: {exc}".splitlines()[0])
        return
    if revisions:
        _fail(
            f"the database has {len(revisions)} pending migration(s) ({', '.join(revisions)}); "
            "run `promo db upgrade` first"
        )


@click.group()
@click.version_option(package_name="promo")
def main() -> None:
    """promo: promo code issuance and redemption service."""


@main.command()
@click.option("--host", help="Listen address (PROMO_HOST).")
@click.option("--port", help="Listen port (PROMO_PORT).")
@click.option("--workers", help="Worker processes (PROMO_WORKERS).")
@click.option(
    "--demo",
    is_flag=True,
    help="Seed demo data into an empty database; print API keys and console sign-ins.",
)
def serve(host: str | None, port: str | None, workers: str | None, demo: bool) -> None:
    """Serve the HTTP API."""
    overrides = {"host": host, "port": port, "workers": workers}
    settings = _settings(**{k: v for k, v in overrides.items() if v is not None})
    _ensure_schema(settings)
    if demo:
        _seed_demo(settings)
    for name, value in overrides.items():
        if value is not None:
            os.environ[f"PROMO_{name.upper()}"] = value
    _run_server(settings)


def _run_server(settings: Settings) -> None:
    import uvicorn

    from promo.observability import configure_logging

    configure_logging(settings)
    metrics_dir = None
    if settings.workers > 1 and "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        # Several processes: Prometheus values are shared through files.
        metrics_dir = tempfile.mkdtemp(prefix="promo-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    try:
        uvicorn.run(
            "promo.app:app_from_environment",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=settings.workers,
            log_config=None,
            access_log=False,
            proxy_headers=False,
            server_header=False,
            # Longer than the usual load balancer idle timeout (60 s), so the
            # server never closes a kept-alive connection a client is reusing.
            timeout_keep_alive=KEEP_ALIVE_SECONDS,
        )
    finally:
        if metrics_dir:
            shutil.rmtree(metrics_dir, ignore_errors=True)


@main.command()
@click.option(
    "--concurrency", type=click.IntRange(1, 64), help="Jobs at once (PROMO_JOB_CONCURRENCY)."
)
def worker(concurrency: int | None) -> None:
    """Run background jobs (code batches, purges, ...) until SIGTERM or Ctrl-C.

    Run as many as you like, on as many hosts (PostgreSQL): each job is taken
    by one. On SQLite `promo serve` runs them itself."""
    import signal

    from promo import job_kinds
    from promo.observability import configure_logging

    settings = _settings(**({"job_concurrency": str(concurrency)} if concurrency else {}))
    _ensure_schema(settings)
    configure_logging(settings)

    async def run() -> None:
        engine = create_engine(settings)
        jobs = job_kinds.worker(settings, engine, utc_now)
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, lambda: asyncio.ensure_future(jobs.stop()))
        click.echo(f"promo worker {jobs.name}: running {', '.join(sorted(jobs.handlers))}")
        try:
            jobs.start()
            await jobs.stopped()
        finally:
            await engine.dispose()

    asyncio.run(run())


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Apply migrations (PROMO_DATABASE_URL)."""
    settings = _settings()
    migrate.upgrade(settings, revision)
    click.echo(f"database at {revision}")


@db.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Revert migrations down to REVISION ('base' for an empty schema)."""
    migrate.downgrade(_settings(), revision)
    click.echo(f"database at {revision}")


@db.command("purge")
@click.option(
    "--answers-hours",
    "--idempotency-hours",
    "answers_hours",
    type=click.IntRange(min=24),
    help="Drop Idempotency-Key answers older than this (PROMO_RETAIN_ANSWERS_HOURS; "
    "the contract keeps them 24 h at least).",
)
@click.option(
    "--audit-details-days",
    type=click.IntRange(min=1),
    help="Clear the details of audit entries older than this (PROMO_RETAIN_AUDIT_DETAILS_DAYS).",
)
def db_purge(answers_hours: int | None, audit_details_days: int | None) -> None:
    """Apply the retention settings (promo.retention); run it from cron. The books
    (redemptions, ledger, payouts) are never purged."""
    from promo import retention

    settings = _settings()
    _ensure_schema(settings)
    policy = retention.Retention.of(settings)
    policy = retention.Retention(
        answers_hours=answers_hours or policy.answers_hours,
        audit_details_days=audit_details_days or policy.audit_details_days,
    )

    async def work(session: AsyncSession) -> retention.Purged:
        return await retention.purge(session, policy, now=utc_now())

    done = _in_transaction(settings, work)
    click.echo(
        f"purged {done.answers} idempotency records, the details of {done.audit_details} "
        f"audit entries and {done.empty_counters} empty customer counters; "
        f"{done.events} webhook events and {done.finished_jobs} finished jobs; "
        f"{done.customer_lists} customers of issued code lists"
    )


@main.group()
def keys() -> None:
    """API keys."""


@keys.command("create")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option("--affiliate", "affiliate", help="Affiliate id (required for --role affiliate).")
@click.option("--name", default="", help="A label to tell keys apart.")
def keys_create(role: str, affiliate: str | None, name: str) -> None:
    """Create a key; it is printed once and only its hash is stored."""
    settings = _settings()
    _ensure_schema(settings)
    affiliate_id = None
    if affiliate is not None:
        affiliate_id = decode(Kind.AFFILIATE, affiliate)
        if affiliate_id is None:
            _fail(f"no such affiliate: {affiliate}")

    async def work(session: AsyncSession) -> tuple[str, str]:
        now = utc_now()
        key, plaintext = await keys_service.create_key(
            session, role=Role(role), affiliate_id=affiliate_id, name=name, now=now
        )
        key_id = encode(Kind.API_KEY, key.id)
        asked = KeyCreate(role=Role(role), affiliate_id=affiliate, name=name)
        await audit.record(session, audit.cli_actor(), "key.create", key_id, now=now, details=asked)
        return key_id, plaintext

    key_id, plaintext = _in_transaction(settings, work)
    click.echo(f"created {role} key {key_id}; store it now, it is not shown again:", err=True)
    click.echo(plaintext)


@keys.command("list")
def keys_list() -> None:
    """List keys (never their secrets)."""
    settings = _settings()
    _ensure_schema(settings)

    async def work(session: AsyncSession) -> list[Any]:
        found: list[Any] = []
        after: int | None = None
        while page := await keys_service.list_keys(session, after_id=after, limit=500):
            found.extend(page)
            after = page[-1].id
        return found

    rows = _in_transaction(settings, work)
    click.echo(f"{'id':<14} {'prefix':<11} {'role':<11} {'affiliate':<14} {'status':<8} name")
    for key in rows:
        affiliate = encode(Kind.AFFILIATE, key.affiliate_id) if key.affiliate_id else "-"
        status = "revoked" if key.revoked_at else "active"
        click.echo(
            f"{encode(Kind.API_KEY, key.id):<14} {key.prefix:<11} {key.role:<11} "
            f"{affiliate:<14} {status:<8} {key.name}"
        )


@keys.command("revoke")
@click.argument("key")
def keys_revoke(key: str) -> None:
    """Revoke KEY, given as its id (key_...) or its prefix (pk_...)."""
    settings = _settings()
    _ensure_schema(settings)

    async def work(session: AsyncSession) -> str:
        now = utc_now()
        key_id = decode(Kind.API_KEY, key)
        if key_id is not None:
            row = await keys_service.revoke_key(session, key_id, now=now)
        else:
            row = await keys_service.revoke_key_by_prefix(session, key, now=now)
        revoked = encode(Kind.API_KEY, row.id)
        await audit.record(session, audit.cli_actor(), "key.revoke", revoked, now=now)
        return revoked

    click.echo(f"revoked {_in_transaction(settings, work)}")


@main.group()
def codes() -> None:
    """Promo codes."""


@codes.command("generate")
@click.option("--campaign", required=True, help="Campaign id (cmp_...).")
@click.option("--count", type=click.IntRange(1, 10_000_000), required=True)
@click.option("--pattern", required=True, help="'#' = one random character, e.g. SUM-####-####.")
@click.option(
    "--charset",
    default="safe",
    show_default=True,
    help="safe, alphanumeric, digits, letters, or explicit characters.",
)
@click.option(
    "--max-redemptions-per-code",
    default="1",
    show_default=True,
    help="A number, or 'unlimited'.",
)
@click.option("--affiliate", help="Attribute the codes to this affiliate (aff_...).")
def codes_generate(
    campaign: str,
    count: int,
    pattern: str,
    charset: str,
    max_redemptions_per_code: str,
    affiliate: str | None,
) -> None:
    """Generate a batch of unique random codes, with a progress bar; prints the batch id."""
    settings = _settings()
    _ensure_schema(settings)
    limit: int | None = None
    if max_redemptions_per_code != "unlimited":
        if not max_redemptions_per_code.isdigit() or int(max_redemptions_per_code) < 1:
            _fail("--max-redemptions-per-code: a number >= 1, or 'unlimited'", 2)
        limit = int(max_redemptions_per_code)
    campaign_id = decode(Kind.CAMPAIGN, campaign)
    affiliate_id = decode(Kind.AFFILIATE, affiliate) if affiliate else None
    if campaign_id is None:
        _fail(f"no such campaign: {campaign}")
    if affiliate and affiliate_id is None:
        _fail(f"no such affiliate: {affiliate}")
    try:
        batch_id, status, error = asyncio.run(
            _generate_codes(
                settings,
                campaign_id=campaign_id or 0,
                count=count,
                pattern=pattern,
                charset=charset,
                max_redemptions_per_code=limit,
                affiliate_id=affiliate_id,
            )
        )
    except DomainError as exc:
        _fail(exc.detail)
        return
    if status != "done":
        _fail(f"batch {batch_id} {status}: {error}")
    click.echo(batch_id)


async def _generate_codes(
    settings: Settings,
    *,
    campaign_id: int,
    count: int,
    pattern: str,
    charset: str,
    max_redemptions_per_code: int | None,
    affiliate_id: int | None,
) -> tuple[str, str, str | None]:
    """Create the batch (committed), then generate it in this process; (id, status, error)."""
    from promo import job_kinds
    from promo.campaigns.service import get_campaign
    from promo.codes import batch_jobs
    from promo.codes.batch_schemas import CodeBatchCreate
    from promo.codes.batches import create_batch
    from promo.codes.models import CodeBatch
    from promo.jobs import queue

    engine = create_engine(settings)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            now = utc_now()
            batch = await create_batch(
                session,
                await get_campaign(session, campaign_id),
                pattern=pattern,
                charset=charset,
                count=count,
                max_redemptions_per_code=max_redemptions_per_code,
                affiliate_id=affiliate_id,
                max_guess_ratio=settings.max_guess_ratio,
                now=now,
            )
            public_id = encode(Kind.CODE_BATCH, batch.id)
            # What the same request would have recorded through the API.
            asked = CodeBatchCreate(
                count=count,
                pattern=pattern,
                charset=charset,
                max_redemptions_per_code=max_redemptions_per_code,
                affiliate_id=encode(Kind.AFFILIATE, affiliate_id) if affiliate_id else None,
            )
            await audit.record(
                session, audit.cli_actor(), "code_batch.create", public_id, now=now, details=asked
            )
            # The batch's job, leased by this process at once: no worker takes it
            # while this command renews it; if the command dies, one resumes it.
            job_id = await batch_jobs.schedule(session, batch.id, now=now)
            worker = job_kinds.worker(settings, engine, utc_now)
            leased = await queue.lease(
                session, worker.name, now=now, lease_for=worker.lease_for, job_id=job_id
            )
        label = f"{public_id} {batch.display_pattern}"
        with click.progressbar(length=count, label=label, file=sys.stderr) as bar:
            done = 0

            def progress(generated: int) -> None:
                nonlocal done
                bar.update(generated - done)
                done = generated

            assert leased is not None  # noqa: S101 (queued and leased in one transaction)
            await worker.run_leased(leased, on_progress=progress)
        async with create_sessionmaker(engine)() as session:
            ended = await session.get(CodeBatch, batch.id)
        assert ended is not None  # noqa: S101 (batches are never deleted)
        return public_id, ended.status, ended.error
    finally:
        await engine.dispose()


@main.command()
def demo() -> None:
    """Seed demo data into an empty database and print one key per role."""
    settings = _settings()
    _ensure_schema(settings)
    _seed_demo(settings)


def _seed_demo(settings: Settings) -> None:
    from promo.demo import DemoData, seed_demo

    async def work(session: AsyncSession) -> DemoData | None:
        return await seed_demo(session, now=utc_now())

    data = _in_transaction(settings, work)
    if data is None:
        click.echo(
            "promo: the database already holds data; demo data is only seeded into an empty one",
            err=True,
        )
        return
    click.echo(
        f"demo campaign {encode(Kind.CAMPAIGN, data.campaign_id)} "
        f"and affiliate {encode(Kind.AFFILIATE, data.affiliate_id)} created"
    )
    click.echo("demo API keys (shown once):")
    for role, key in data.keys.items():
        click.echo(f"  {role:<11} {key}")
    base = f"http://{settings.host}:{settings.port}"
    click.echo("try:")
    click.echo(f"  curl -s -H 'Authorization: Bearer {data.keys['marketer']}' {base}/v1/campaigns")
    click.echo(
        f"  curl -s -H 'Authorization: Bearer {data.keys['checkout']}' "
        f"-H 'Content-Type: application/json' {base}/v1/validations -d '{DEMO_CART}'"
    )
    click.echo(f"API docs: {base}/schema")
    click.echo(f"console: {base}/console/ (sign-ins shown once):")
    for role, (email, password) in data.accounts.items():
        click.echo(f"  {role:<11} {email:<24} {password}")


@main.command()
@click.option(
    "--output", type=click.Path(path_type=Path), default=DEFAULT_OPENAPI_PATH, show_default=True
)
@click.option("--check", is_flag=True, help="Fail if the file differs from what the app generates.")
def openapi(output: Path, check: bool) -> None:
    """Write the OpenAPI document the app serves."""
    from promo.openapi import render_openapi

    document = render_openapi()
    if check:
        if not output.is_file() or output.read_text() != document:
            _fail(f"{output} is out of date; run `promo openapi`")
        click.echo(f"{output} is up to date")
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(document)
    click.echo(f"wrote {output}")


# `promo users` lives in its own module, which reads the helpers above.
from promo.cli_users import users  # noqa: E402

main.add_command(users)
