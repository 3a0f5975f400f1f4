"""The migrations build exactly the schema the code declares, on SQLite and PostgreSQL, and go back down."""

from __future__ import annotations

from alembic import command

from crm_common.migrations import alembic_config, upgrade
from crm_common.testing import schema_drift
from crm_lead.adapters.orm import metadata


def test_migrated_schema_matches_the_tables_in_code(database_url: str) -> None:
    assert schema_drift(database_url, metadata) == []


def test_migrations_go_down_and_up_again(database_url: str) -> None:
    command.downgrade(alembic_config("crm_lead:migrations", database_url), "0001")
    upgrade("crm_lead:migrations", database_url)
    assert schema_drift(database_url, metadata) == []
