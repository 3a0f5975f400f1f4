"""Retention of idempotency keys and inbox marks, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from crm_common.db import make_engine, new_metadata, utcnow
from crm_common.retention import PlatformJanitor
from crm_common.testing import BACKENDS, empty_database

metadata = new_metadata()


@pytest.mark.parametrize("backend", BACKENDS)
def test_expired_keys_and_inbox_marks_go_and_recent_ones_stay(backend: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    with empty_database(backend, tmp_path, "retention") as url:
        engine = make_engine(url, pool_size=1)
        metadata.create_all(engine)
        now = utcnow()
        keys, inbox = metadata.tables["idempotency_keys"], metadata.tables["inbox"]
        with engine.begin() as conn:
            conn.execute(
                keys.insert(),
                [
                    {"method": "CreateLead", "request_id": f"r{i}", "request_hash": "h", "result_ref": "x", "created_at": now - timedelta(days=days)}
                    for i, days in enumerate([10] * 7 + [1] * 2)
                ],
            )
            conn.execute(
                inbox.insert(),
                [{"consumer": "c.m", "event_id": f"e{i}", "processed_at": now - timedelta(days=days)} for i, days in enumerate([40] * 5 + [3])],
            )
        janitor = PlatformJanitor(engine, metadata, timedelta(days=7), timedelta(days=30), batch_size=3)
        assert janitor.purge() == {"idempotency_keys": 7, "inbox": 5}
        with engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(keys)).scalar() == 2
            assert conn.execute(select(func.count()).select_from(inbox)).scalar() == 1
        assert janitor.purge() == {"idempotency_keys": 0, "inbox": 0}
        engine.dispose()
