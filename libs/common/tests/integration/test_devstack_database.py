"""`make up` with DATABASE_URL naming a PostgreSQL server: each service's database is created
on first start and reused afterwards."""

from __future__ import annotations

import secrets
from pathlib import Path

from sqlalchemy import create_engine, make_url, text
from sqlalchemy.pool import NullPool

from crm_common.devstack import ensure_database, local_database_url
from crm_common.testing import postgres_admin_url


def test_each_service_database_is_created_once(tmp_path: Path) -> None:
    name = f"probe_{secrets.token_hex(4)}"
    url = local_database_url(name, {"DATABASE_URL": postgres_admin_url()}, tmp_path)
    assert make_url(url).database == f"crm_{name}"
    admin = create_engine(make_url(postgres_admin_url()).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        assert ensure_database(url) is True
        assert ensure_database(url) is False
        probe = create_engine(url, poolclass=NullPool)
        with probe.connect() as conn:
            assert conn.execute(text("SELECT current_database()")).scalar_one() == f"crm_{name}"
        probe.dispose()
        assert ensure_database(local_database_url(name, {}, tmp_path)) is False  # SQLite: nothing to create
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "crm_{name}" WITH (FORCE)'))
        admin.dispose()
