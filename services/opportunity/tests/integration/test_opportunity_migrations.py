"""The migrations build exactly the schema the code declares, on SQLite and PostgreSQL, and
upgrade a database built by the former revisions in place."""

from __future__ import annotations

from pathlib import Path

import pytest

from crm_common.testing import BACKENDS, LiveService, check_upgrade_in_place, schema_drift
from crm_opportunity.adapters.orm import metadata
from crm_opportunity.service import SERVICE

# The service's revisions as main had them at 10ee7dc, each service creating the platform tables.
FORMER_VERSIONS = Path(__file__).parents[1] / "fixtures" / "10ee7dc" / "migrations" / "versions"


def test_migrated_schema_matches_the_tables_in_code(live: LiveService) -> None:
    assert schema_drift(live.database_url, metadata) == []


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_database_built_by_the_former_migrations_upgrades_in_place_with_its_data(backend: str, tmp_path: Path) -> None:
    check_upgrade_in_place(backend, SERVICE, FORMER_VERSIONS, metadata, tmp_path)
