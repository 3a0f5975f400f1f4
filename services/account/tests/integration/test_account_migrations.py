"""The migrations build exactly the schema the code declares, and carry existing data along,
on SQLite and PostgreSQL, also from a database built by the former revisions."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from crm_account.adapters.orm import metadata
from crm_account.adapters.repository import AccountRepository, PiiCodec
from crm_account.domain.model import ContactKeys
from crm_account.service import SERVICE
from crm_common.db import make_engine
from crm_common.migrations import alembic_config, upgrade
from crm_common.pii import DEV_PII_INDEX_KEY, DEV_PII_KEYS, load_pii
from crm_common.testing import BACKENDS, LiveService, check_upgrade_in_place, empty_database, schema_drift

MIGRATIONS = SERVICE.migrations
# The service's revisions as main had them at 10ee7dc, each service creating the platform tables.
FORMER_VERSIONS = Path(__file__).parents[1] / "fixtures" / "10ee7dc" / "migrations" / "versions"
PLAIN_ROW = {
    "account_id": "6f1c2a8e-0000-4000-8000-000000000001",
    "national_id": "001099012345",
    "phone_e164": "+84912345678",
    "email": "an@example.vn",
}


def test_migrated_schema_matches_the_tables_in_code(live: LiveService) -> None:
    assert schema_drift(live.database_url, metadata) == []


@pytest.mark.parametrize("backend", BACKENDS)
def test_0003_encrypts_the_rows_of_the_plain_schema_and_downgrades_back(backend: str, tmp_path: Path) -> None:
    from alembic import command

    with empty_database(backend, tmp_path, "account_0003") as url:
        upgrade(MIGRATIONS, url, "0002")
        engine = make_engine(url, pool_size=1)
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO accounts (account_id, account_type, lifecycle_stage, full_name, national_id, phone_e164, email, owner_id,"
                    " source_lead_id, acquisition_lead_id, acquisition_channel, acquisition_campaign_id, acquisition_utm_source,"
                    " acquisition_utm_medium, acquisition_utm_campaign, created_at, created_by, updated_at, updated_by)"
                    " VALUES (:account_id, 'PERSON', 'PROSPECT', 'Nguyễn Văn An', :national_id, :phone_e164, :email, 'rm-1', '', '', '', '',"
                    " '', '', '', CURRENT_TIMESTAMP, 'x', CURRENT_TIMESTAMP, 'x')"
                ),
                PLAIN_ROW,
            )
        upgrade(MIGRATIONS, url)
        with engine.connect() as conn:
            stored = " ".join(str(v) for row in conn.execute(text("SELECT * FROM accounts")) for v in row)
            # The name too is encrypted since 0014; every datum reads back below.
            assert PLAIN_ROW["national_id"] not in stored and "Nguyễn Văn An" not in stored
            repository = AccountRepository(conn, PiiCodec(*load_pii(DEV_PII_KEYS, DEV_PII_INDEX_KEY)))
            [account] = repository.sharing_keys(ContactKeys(phone_e164="+84912345678"))
            profile = account.profile
            assert (account.account_id, profile.full_name, profile.national_id, profile.phones, profile.emails) == (
                PLAIN_ROW["account_id"],
                "Nguyễn Văn An",
                "001099012345",
                ("+84912345678",),
                ("an@example.vn",),
            )
            assert conn.execute(text("SELECT count(*) FROM account_match_keys")).scalar_one() == 3

        command.downgrade(alembic_config(MIGRATIONS, url), "0002")
        with engine.connect() as conn:
            row = conn.execute(text("SELECT national_id, phone_e164, email FROM accounts")).one()
            assert tuple(row) == (PLAIN_ROW["national_id"], PLAIN_ROW["phone_e164"], PLAIN_ROW["email"])
        engine.dispose()


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_database_built_by_the_former_migrations_upgrades_in_place_with_its_data(backend: str, tmp_path: Path) -> None:
    check_upgrade_in_place(backend, SERVICE, FORMER_VERSIONS, metadata, tmp_path)
