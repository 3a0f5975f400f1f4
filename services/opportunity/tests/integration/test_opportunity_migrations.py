"""The migrations build exactly the schema the code declares, on SQLite and PostgreSQL."""

from __future__ import annotations

from crm_common.testing import LiveService, schema_drift
from crm_opportunity.adapters.orm import metadata


def test_migrated_schema_matches_the_tables_in_code(live: LiveService) -> None:
    assert schema_drift(live.database_url, metadata) == []
