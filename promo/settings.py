"""Typed settings, read once from ``PROMO_*`` environment variables.

Nothing here runs at import time: ``load_settings(environ)`` is called by the
CLI (and by each server worker) and the resulting frozen ``Settings`` is passed
down explicitly. Tests build their own ``Settings`` instead of touching the
environment.
"""

from __future__ import annotations

import ipaddress
import re
import ssl
from collections.abc import Mapping
from typing import Annotated, Literal

import msgspec

from promo.pii import DEV_PII_KEY, Keyring, PiiKeyError

PREFIX = "PROMO_"
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./promo.db"
# Used only on the embedded SQLite default, so `promo serve` works on a bare
# machine. PostgreSQL deployments must set their own PROMO_SECRET.
DEV_SECRET = "promo-insecure-development-secret"  # noqa: S105 (public by design)

LogLevel = Literal["debug", "info", "warning", "error"]


class SettingsError(Exception):
    """A missing or invalid setting; the message is one line meant for the operator."""


class Settings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Everything the service reads from its environment."""

    database_url: str = DEFAULT_DATABASE_URL
    secret: Annotated[str, msgspec.Meta(min_length=16)] = DEV_SECRET
    host: str = "127.0.0.1"
    port: Annotated[int, msgspec.Meta(ge=1, le=65535)] = 8000
    workers: Annotated[int, msgspec.Meta(ge=1, le=64)] = 1
    log_level: LogLevel = "info"
    log_json: bool = True
    max_body_bytes: Annotated[int, msgspec.Meta(ge=1024, le=64 * 1024 * 1024)] = 1024 * 1024
    # An upload of codes to import (a streamed CSV, stored in the database).
    max_import_bytes: Annotated[int, msgspec.Meta(ge=1024, le=1024 * 1024 * 1024)] = (
        64 * 1024 * 1024
    )
    db_pool_size: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 10
    # PostgreSQL: how long opening a connection may take before the request is
    # answered 503 (a database host that drops packets would otherwise hold
    # requests for minutes), and how long one statement of the checkout may run.
    db_connect_timeout_seconds: Annotated[float, msgspec.Meta(gt=0, le=300)] = 5.0
    db_command_timeout_seconds: Annotated[float, msgspec.Meta(gt=0, le=3600)] = 30.0
    # Shared counters for several workers or hosts (throttling); else in-process.
    redis_url: str | None = None
    throttle_window_seconds: Annotated[int, msgspec.Meta(ge=1, le=86_400)] = 60
    # Per API key the budget is a signal, not a refusal: past it, failed
    # attempts of that key are slowed and reported (metric, log event); every
    # shopper of a checkout shares its key. The hard cap refuses, opt-in.
    throttle_failures_per_key: Annotated[int, msgspec.Meta(ge=1)] = 100
    throttle_key_slowdown_ms: Annotated[int, msgspec.Meta(ge=0, le=10_000)] = 250
    throttle_key_hard_cap: Annotated[int, msgspec.Meta(ge=1)] | None = None
    throttle_failures_per_customer: Annotated[int, msgspec.Meta(ge=1)] = 10
    throttle_failures_per_ip: Annotated[int, msgspec.Meta(ge=1)] = 20
    # Answer every refusal that would reveal whether a code exists with one
    # uniform reason (for checkouts that show messages to shoppers as is).
    uniform_refusals: bool = False
    # Guessability bound of generated codes: a pattern's codes (existing ones
    # included) / its space. A ratio, not money, so a float. Above 0.5 the
    # last codes of a batch would take ever longer retry rounds to find.
    max_guess_ratio: Annotated[float, msgspec.Meta(gt=0, le=0.5)] = 1e-4
    # Personal data (promo.pii): the key that hashes customer identities, written
    # ID:SECRET, and the retired keys still read (comma-separated ID:SECRET).
    pii_key: str = DEV_PII_KEY
    pii_retired_keys: str = ""
    # Retention, applied by `promo db purge` (README, "Personal data"): stored
    # Idempotency-Key answers, and the details of audit entries (the entry
    # itself, who did what when, is kept).
    retain_answers_hours: Annotated[int, msgspec.Meta(ge=24, le=24 * 366)] = 24 * 7
    retain_audit_details_days: Annotated[int, msgspec.Meta(ge=1, le=36_600)] = 400
    retain_events_days: Annotated[int, msgspec.Meta(ge=1, le=36_600)] = 30
    retain_finished_jobs_days: Annotated[int, msgspec.Meta(ge=1, le=36_600)] = 7
    # How long the list a code batch was issued to (ids, e-mails as uploaded)
    # is kept for the mailing tool's download (promo.codes.batch_customers).
    retain_customer_lists_days: Annotated[int, msgspec.Meta(ge=1, le=90)] = 7
    # Background jobs (promo.jobs): run by `promo serve` itself (unset: on
    # SQLite only) or by `promo worker` processes; how many at once per
    # worker; how long a lease lasts without renewal (a dead worker's jobs are
    # taken over after this).
    jobs_in_process: bool | None = None
    job_concurrency: Annotated[int, msgspec.Meta(ge=1, le=64)] = 4
    job_lease_seconds: Annotated[float, msgspec.Meta(ge=1, le=3600)] = 30.0
    # Webhooks (promo.webhooks): the URL schemes a subscription may use
    # (comma-separated, of http and https); where it may point (host names,
    # addresses, CIDR networks, and ``public``: any host whose addresses are
    # all public; internal ones, loopback, private, link-local, only when
    # listed, against SSRF); how long one delivery attempt may take.
    webhook_schemes: str = "https"
    webhook_allowed_hosts: str = "public"
    webhook_timeout_seconds: Annotated[float, msgspec.Meta(gt=0, le=60)] = 5.0
    # A PEM bundle of CA certificates trusted for https deliveries beside the
    # default ones (a receiver behind a private CA); never a way to trust less.
    webhook_ca_file: str | None = None
    # How often each worker adds the validations it counted to the performance
    # reports' roll-ups (promo.reports.counting); also done at shutdown.
    report_flush_seconds: Annotated[float, msgspec.Meta(ge=0.1, le=3600)] = 5.0
    # The address people reach promo at (console invitation and reset links
    # that `promo users` prints); unset: http://HOST:PORT.
    public_url: str | None = None
    # The console (promo.console): its cookies are Secure (sent over https
    # only) unless turned off; unset: Secure when PROMO_PUBLIC_URL is https.
    console_secure_cookies: bool | None = None
    # A console session ends after this long without a request, and at most
    # this many days after sign-in.
    console_idle_minutes: Annotated[int, msgspec.Meta(ge=5, le=7 * 24 * 60)] = 8 * 60
    console_session_days: Annotated[int, msgspec.Meta(ge=1, le=90)] = 7
    # Failed sign-ins allowed per account and per client address in the window.
    console_sign_in_failures_per_account: Annotated[int, msgspec.Meta(ge=1)] = 5
    console_sign_in_failures_per_address: Annotated[int, msgspec.Meta(ge=1)] = 20
    console_sign_in_window_seconds: Annotated[int, msgspec.Meta(ge=60, le=86_400)] = 900

    @property
    def keyring(self) -> Keyring:
        """The PII keyring; ``load_settings`` has checked that it parses."""
        return Keyring.parse(self.pii_key, self.pii_retired_keys)

    @property
    def base_url(self) -> str:
        """Where people reach promo: the start of every link promo prints."""
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def secure_cookies(self) -> bool:
        if self.console_secure_cookies is not None:
            return self.console_secure_cookies
        return self.base_url.startswith("https://")

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def is_postgres(self) -> bool:
        return self.database_url.startswith("postgresql")

    @property
    def runs_jobs_in_process(self) -> bool:
        return self.is_sqlite if self.jobs_in_process is None else self.jobs_in_process


_FIELD_AT = re.compile(r"at `\$\.(\w+)`")


def load_settings(environ: Mapping[str, str]) -> Settings:
    """Build ``Settings`` from ``PROMO_*`` variables; raise ``SettingsError`` on a bad one."""
    known = set(Settings.__struct_fields__)
    raw: dict[str, str] = {}
    for name, value in environ.items():
        if not name.startswith(PREFIX):
            continue
        field = name[len(PREFIX) :].lower()
        if field not in known:
            # Other PROMO_* variables may belong to later features or to tooling;
            # only the ones we know are validated.
            continue
        raw[field] = value.strip()
    if "log_level" in raw:
        raw["log_level"] = raw["log_level"].lower()
    try:
        settings = msgspec.convert(raw, Settings, strict=False)
    except msgspec.ValidationError as exc:
        match = _FIELD_AT.search(str(exc))
        where = f"{PREFIX}{match.group(1).upper()}" if match else "settings"
        reason = str(exc).split(" - at ")[0]
        raise SettingsError(f"invalid {where}: {reason}") from None
    _check_consistency(settings, raw)
    return settings


WEBHOOK_SCHEMES = frozenset({"http", "https"})
_LABEL = r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
HOST_NAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*$")


def listed(value: str) -> list[str]:
    """A comma-separated setting as its items (trimmed, lower-cased, no empties)."""
    return [item.strip().lower() for item in value.split(",") if item.strip()]


def _check_webhooks(settings: Settings) -> None:
    schemes = listed(settings.webhook_schemes)
    if not schemes or not set(schemes) <= WEBHOOK_SCHEMES:
        raise SettingsError("invalid PROMO_WEBHOOK_SCHEMES: expected https, http or http,https")
    hosts = listed(settings.webhook_allowed_hosts)
    if not hosts:
        raise SettingsError(
            "invalid PROMO_WEBHOOK_ALLOWED_HOSTS: expected public, or host names, "
            "addresses and networks (CIDR), comma-separated"
        )
    for item in hosts:
        if item == "public":
            continue
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            if not HOST_NAME.match(item):
                raise SettingsError(
                    f"invalid PROMO_WEBHOOK_ALLOWED_HOSTS: {item!r} is neither a host name, "
                    "an IP address nor a network (CIDR)"
                ) from None
    if settings.webhook_ca_file is not None:
        try:
            ssl.create_default_context(cafile=settings.webhook_ca_file)
        except (OSError, ssl.SSLError) as exc:
            # SSLError is an OSError: a file that is there but holds no PEM certificate.
            what = "it holds no PEM certificate" if isinstance(exc, ssl.SSLError) else exc.strerror
            raise SettingsError(
                f"invalid PROMO_WEBHOOK_CA_FILE: cannot read CA certificates from "
                f"{settings.webhook_ca_file!r} ({what})"
            ) from None


def _check_consistency(settings: Settings, raw: Mapping[str, str]) -> None:
    url = settings.database_url
    if not (url.startswith("sqlite+aiosqlite://") or url.startswith("postgresql+asyncpg://")):
        raise SettingsError(
            "invalid PROMO_DATABASE_URL: expected sqlite+aiosqlite:///PATH "
            "or postgresql+asyncpg://USER:PASSWORD@HOST:PORT/DB"
        )
    if settings.redis_url is not None and not settings.redis_url.startswith(
        ("redis://", "rediss://", "unix://")
    ):
        raise SettingsError("invalid PROMO_REDIS_URL: expected redis://HOST:PORT/DB")
    if settings.is_postgres and "secret" not in raw:
        raise SettingsError(
            "missing PROMO_SECRET: required on PostgreSQL (at least 16 characters, keep it stable)"
        )
    if settings.is_postgres and "pii_key" not in raw:
        raise SettingsError(
            "missing PROMO_PII_KEY: required on PostgreSQL (ID:SECRET, a secret of at least "
            "32 characters; keep it, and every retired key, secret and stable)"
        )
    if settings.public_url is not None and not settings.public_url.startswith(
        ("http://", "https://")
    ):
        raise SettingsError("invalid PROMO_PUBLIC_URL: expected https://HOST[:PORT][/PATH]")
    _check_webhooks(settings)
    for variable, keys in (
        ("PROMO_PII_KEY", (settings.pii_key,)),
        ("PROMO_PII_RETIRED_KEYS", (settings.pii_key, settings.pii_retired_keys)),
    ):
        try:
            Keyring.parse(*keys)
        except PiiKeyError as exc:
            raise SettingsError(f"invalid {variable}: {exc}") from None
