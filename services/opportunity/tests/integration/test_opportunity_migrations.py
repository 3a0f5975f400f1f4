"""The migrations build exactly the schema the code declares, on SQLite and PostgreSQL, and
upgrade a database built by the former revisions in place."""

from __future__ import annotations

from pathlib import Path

import pytest

from crm_common.migrations import platform_head
from crm_common.testing import BACKENDS, LiveService, schema_drift, upgrade_in_place
from crm_opportunity.adapters.orm import metadata

MIGRATIONS = "crm_opportunity:migrations"
# The service's revisions as main had them at 10ee7dc, each service creating the platform tables.
FORMER_VERSIONS = Path(__file__).parents[1] / "fixtures" / "10ee7dc" / "migrations" / "versions"


def test_migrated_schema_matches_the_tables_in_code(live: LiveService) -> None:
    assert schema_drift(live.database_url, metadata) == []


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_database_built_by_the_former_migrations_upgrades_in_place_with_its_data(backend: str, tmp_path: Path) -> None:
    done = upgrade_in_place(backend, MIGRATIONS, FORMER_VERSIONS, metadata, tmp_path)
    assert done.platform_tables == {"outbox", "inbox", "idempotency_keys"}
    assert all(len(rows) == 1 for rows in done.rows_before.values())
    assert {t: done.rows_after[t] for t in done.platform_tables} == {t: done.rows_before[t] for t in done.platform_tables}
    # Later service revisions may rewrite values (say, encrypt them); every row stays.
    assert {t: done.keys_after[t] for t in done.keys_before} == done.keys_before
    assert done.current == done.heads and platform_head() in done.current
    assert done.drift == []
    assert done.schema == done.fresh_schema
