"""Alembic, the same way for every service: each keeps its scripts in `<package>/migrations`."""

from __future__ import annotations

from typing import Any

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData

from crm_common.db import UtcDateTime, make_engine


def alembic_config(script_location: str, database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", script_location)
    # ConfigParser interpolation: a literal % in a URL (e.g. an encoded password) must be doubled.
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(script_location: str, database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(script_location, database_url), revision)


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
