"""The migrations build exactly the schema the code declares, on SQLite and PostgreSQL, go back
down, and upgrade a database built by the former revisions in place."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command

from crm_common.migrations import alembic_config, upgrade
from crm_common.testing import BACKENDS, check_upgrade_in_place, schema_drift
from crm_lead.adapters.orm import metadata
from crm_lead.service import SERVICE

MIGRATIONS = SERVICE.migrations
# The service's revisions as main had them at 10ee7dc, each service creating the platform tables.
FORMER_VERSIONS = Path(__file__).parents[1] / "fixtures" / "10ee7dc" / "migrations" / "versions"


def test_migrated_schema_matches_the_tables_in_code(database_url: str) -> None:
    assert schema_drift(database_url, metadata) == []


def test_migrations_go_down_and_up_again(database_url: str) -> None:
    command.downgrade(alembic_config(MIGRATIONS, database_url), "0001")
    upgrade(MIGRATIONS, database_url)
    assert schema_drift(database_url, metadata) == []


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_database_built_by_the_former_migrations_upgrades_in_place_with_its_data(backend: str, tmp_path: Path) -> None:
    check_upgrade_in_place(backend, SERVICE, FORMER_VERSIONS, metadata, tmp_path)
