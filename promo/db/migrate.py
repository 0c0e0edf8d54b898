"""Applying and checking migrations (the alembic scripts in ``alembic/``).

The scripts live at the top of the repository; a wheel carries them inside
the package as ``promo/_migrations``. Besides the database, a migration may
need the PII keyring (0010 turns stored identities into refs): ``upgrade``
hands over the settings' own; the plain ``alembic`` command reads it from
PROMO_PII_KEY and PROMO_PII_RETIRED_KEYS (``keyring_of``).
"""

from __future__ import annotations

import os
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from promo.pii import Keyring
from promo.settings import Settings, load_settings

_PACKAGE = Path(__file__).resolve().parent.parent


def script_location() -> Path:
    for candidate in (_PACKAGE / "_migrations", _PACKAGE.parent / "alembic"):
        if (candidate / "env.py").is_file():
            return candidate
    raise FileNotFoundError("alembic migration scripts not found next to the promo package")


def alembic_config(database_url: str | None = None, keyring: Keyring | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(script_location()))
    if database_url is not None:
        config.attributes["database_url"] = database_url
    if keyring is not None:
        config.attributes["keyring"] = keyring
    return config


def keyring_of(config: Config) -> Keyring:
    """The keyring a migration hashes identities with: the one ``upgrade`` handed
    over, else the one PROMO_PII_* name (run by the plain ``alembic`` command)."""
    given = config.attributes.get("keyring")
    if isinstance(given, Keyring):
        return given
    return load_settings(os.environ).keyring


def upgrade(settings: Settings, revision: str = "head") -> None:
    """Apply migrations up to ``revision``; blocking (runs its own event loop)."""
    command.upgrade(alembic_config(settings.database_url, settings.keyring), revision)


def downgrade(settings: Settings, revision: str = "base") -> None:
    command.downgrade(alembic_config(settings.database_url), revision)


def _pending(connection: Connection) -> list[str]:
    script = ScriptDirectory.from_config(alembic_config())
    current = set(MigrationContext.configure(connection).get_current_heads())
    heads = set(script.get_heads())
    if current == heads:
        return []
    return [
        rev.revision
        for rev in script.iterate_revisions(tuple(heads), tuple(current) or "base")
        if rev.revision not in current
    ]


async def pending_revisions(engine: AsyncEngine) -> list[str]:
    """Revisions not yet applied to the database behind ``engine``."""
    async with engine.connect() as connection:
        return await connection.run_sync(_pending)
