"""Alembic, the same way for every service: each keeps its scripts in `<package>/migrations`,
and its database also carries the platform's history (`crm_common.platform_migrations`, the
branch labelled `platform`: outbox, inbox, idempotency keys), on which the service's first
revision depends. One `alembic_version` table records the head of each branch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from alembic import command, context
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData

from crm_common.db import UtcDateTime, make_engine

PLATFORM_MIGRATIONS = "crm_common:platform_migrations"
PLATFORM_VERSIONS = f"{PLATFORM_MIGRATIONS}/versions"


def version_locations(script_location: str) -> list[str]:
    """Where a service's revisions live: its own `versions/`, then the platform's."""
    return [f"{script_location}/versions", PLATFORM_VERSIONS]


def alembic_config(script_location: str, database_url: str, versions: Sequence[str] | None = None) -> Config:
    """The Alembic configuration of a service's database; `versions` replaces the usual
    version locations (tests build databases with frozen copies of former revisions)."""
    config = Config()
    config.set_main_option("script_location", script_location)
    # Package resources are `package:path`, so the list cannot be split on the OS separator.
    config.set_main_option("path_separator", "space")
    config.set_main_option("version_locations", " ".join(versions or version_locations(script_location)))
    # ConfigParser interpolation: a literal % in a URL (e.g. an encoded password) must be doubled.
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(script_location: str, database_url: str, revision: str = "heads") -> None:
    """Brings the database to `revision`; by default to every head, the service's and the platform's."""
    command.upgrade(alembic_config(script_location, database_url), revision)


def script_heads(script_location: str) -> set[str]:
    """The heads of a service's migration history (with the platform's)."""
    return set(ScriptDirectory.from_config(alembic_config(script_location, "")).get_heads())


def platform_head() -> str:
    """The newest platform revision, which every service's database reaches with `migrate`."""
    head = ScriptDirectory.from_config(alembic_config(PLATFORM_MIGRATIONS, "", [PLATFORM_VERSIONS])).get_current_head()
    if head is None:
        raise RuntimeError(f"no revision in {PLATFORM_VERSIONS}")
    return head


def current_heads(database_url: str) -> set[str]:
    """The revisions the database is stamped at (`alembic current`)."""
    engine = make_engine(database_url, pool_size=1)
    try:
        with engine.connect() as conn:
            return set(MigrationContext.configure(conn).get_current_heads())
    finally:
        engine.dispose()


def _render_item(type_: str, obj: Any, autogen_context: Any) -> Any:
    # Migrations must not import application code: our UTC type is a plain timestamptz there.
    if type_ == "type" and isinstance(obj, UtcDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def run_env(metadata: MetaData) -> None:
    """The body of every service's migrations/env.py."""
    url = context.get_x_argument(as_dictionary=True).get("url") or context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit("no database URL: run `crm-<service> migrate`, or alembic with -x url=...")
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(url, pool_size=1)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
            render_item=_render_item,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()
