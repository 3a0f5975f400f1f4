"""The platform's tables come from one Alembic history in libs/common that every service's history
depends on: a service's `migrate` builds them, and a later platform revision (one file) reaches
a service's database on its next `migrate`, with the data it holds. On SQLite and PostgreSQL.

The service here is a stand-in written into a temporary directory, the way a service keeps its
migrations: env.py calling run_env, and a first revision that depends on the platform's.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Column, MetaData, String, Table, inspect, text

from crm_common.db import make_engine, new_metadata
from crm_common.migrations import PLATFORM_VERSIONS, alembic_config, current_heads, platform_head, script_heads, upgrade
from crm_common.testing import BACKENDS, empty_database, schema_drift

ENV = """\
from sqlalchemy import Column, String, Table

from crm_common.db import new_metadata
from crm_common.migrations import run_env

metadata = new_metadata()
Table("notes", metadata, Column("note_id", String(36), primary_key=True))
run_env(metadata)
"""

FIRST_REVISION = """\
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = ("notes",)
depends_on = "platform_0001"


def upgrade():
    op.create_table("notes", sa.Column("note_id", sa.String(36), nullable=False), sa.PrimaryKeyConstraint("note_id", name="pk_notes"))


def downgrade():
    op.drop_table("notes")
"""

LATER_PLATFORM_REVISION = """\
import sqlalchemy as sa
from alembic import op

revision = "platform_9999"
down_revision = "{head}"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table("audit_probe", sa.Column("seq", sa.Integer(), nullable=False), sa.PrimaryKeyConstraint("seq", name="pk_audit_probe"))


def downgrade():
    op.drop_table("audit_probe")
"""


def notes_metadata() -> MetaData:
    metadata = new_metadata()
    Table("notes", metadata, Column("note_id", String(36), primary_key=True))
    return metadata


@pytest.fixture
def service(tmp_path: Path) -> str:
    """The stand-in service's migrations directory (its script_location)."""
    root = tmp_path / "notes_migrations"
    (root / "versions").mkdir(parents=True)
    (root / "env.py").write_text(ENV)
    (root / "versions" / "0001_notes.py").write_text(FIRST_REVISION)
    return str(root)


@pytest.mark.parametrize("backend", BACKENDS)
def test_migrate_builds_the_platform_tables_and_stamps_both_heads(backend: str, service: str, tmp_path: Path) -> None:
    with empty_database(backend, tmp_path, "platform_migrations") as url:
        upgrade(service, url)
        assert current_heads(url) == script_heads(service) == {"0001", platform_head()}
        assert schema_drift(url, notes_metadata()) == []


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_later_platform_revision_reaches_a_migrated_database_with_its_data(backend: str, service: str, tmp_path: Path) -> None:
    later = tmp_path / "later_platform"
    later.mkdir()
    (later / "platform_9999_audit_probe.py").write_text(LATER_PLATFORM_REVISION.format(head=platform_head()))
    with empty_database(backend, tmp_path, "platform_migrations") as url:
        upgrade(service, url)
        engine = make_engine(url, pool_size=1)
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO notes (note_id) VALUES ('n-1')"))
            conn.execute(text("INSERT INTO inbox (consumer, event_id, processed_at) VALUES ('c', 'e-1', CURRENT_TIMESTAMP)"))

        # What `migrate` does once the revision is a file in crm_common/platform_migrations/versions.
        command.upgrade(alembic_config(service, url, [f"{service}/versions", PLATFORM_VERSIONS, str(later)]), "heads")

        assert current_heads(url) == {"0001", "platform_9999"}
        assert "audit_probe" in inspect(engine).get_table_names()
        with engine.connect() as conn:
            assert conn.execute(text("SELECT note_id FROM notes")).scalars().all() == ["n-1"]
            assert conn.execute(text("SELECT event_id FROM inbox")).scalars().all() == ["e-1"]
        engine.dispose()
