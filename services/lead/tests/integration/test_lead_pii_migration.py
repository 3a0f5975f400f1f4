"""Migration 0004 encrypts the rows written in clear before it, on SQLite and PostgreSQL, and a
downgrade gives them back in clear."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import JSON, Boolean, DateTime, Integer, MetaData, Table, insert, select

from crm_common.auth import DataScope
from crm_common.db import make_engine
from crm_common.migrations import alembic_config, upgrade
from crm_common.pagination import Page
from crm_common.pii import PiiCodec
from crm_common.settings import ServiceSettings
from crm_common.testing import BACKENDS, empty_database, schema_drift
from crm_lead.adapters.orm import contact_attempts, lead_behaviours, leads, metadata
from crm_lead.adapters.repository import LeadRepository
from crm_lead.domain.model import LeadFilter

MIGRATIONS = "crm_lead:migrations"
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
PEOPLE = [
    # lead id, status, name, phone, email, national id, note
    ("lead-1", "MQL", "Nguyễn Văn An", "+84912345678", "an.nguyen@example.com", "079099012345", "anh An hẹn gọi lại"),
    ("lead-2", "NEW", "Trần Thị Bình", "+84987654321", "", "", ""),
    ("lead-3", "CONVERTED", "(erased)", "", "", "", ""),
]


def _defaults(table: Table) -> dict[str, object]:
    """A value for every column of the old schema, so the test does not restate it."""
    values: dict[str, object] = {}
    for column in table.columns:
        if isinstance(column.type, DateTime):
            values[column.name] = NOW
        elif isinstance(column.type, Boolean):
            values[column.name] = False
        elif isinstance(column.type, Integer):
            values[column.name] = 1
        elif isinstance(column.type, JSON) or column.name == "score_reasons":
            values[column.name] = []
        else:
            values[column.name] = ""
    return values


def _write_old_rows(url: str) -> None:
    engine = make_engine(url, pool_size=1)
    old = MetaData()
    old.reflect(engine, only=["leads", "contact_attempts", "lead_behaviours"])
    with engine.begin() as conn:
        for lead_id, status, name, phone, email, national_id, note in PEOPLE:
            folded = "" if name == "(erased)" else name  # what an erasure left
            row = _defaults(old.tables["leads"]) | {"lead_id": lead_id, "status": status, "full_name": name, "name_folded": folded}
            row |= {"phone_e164": phone, "email": email, "national_id": national_id, "note": note, "status_note": note}
            row |= {"created_at": NOW.replace(minute=int(lead_id[-1]))}
            conn.execute(insert(old.tables["leads"]).values(row))
        attempt = _defaults(old.tables["contact_attempts"]) | {
            "attempt_id": "att-1",
            "lead_id": "lead-1",
            "note": "gọi 0912345678",
            "outcome": "REACHED",
        }
        conn.execute(insert(old.tables["contact_attempts"]).values(attempt))
        behaviour = {"lead_id": "lead-1", "behaviour": "FORM_SUBMITTED", "occurred_at": NOW, "detail": "tôi là Nguyễn Văn An"}
        conn.execute(insert(old.tables["lead_behaviours"]).values(behaviour))
    engine.dispose()


@pytest.mark.parametrize("backend", BACKENDS)
def test_existing_rows_are_encrypted_and_still_found(backend: str, tmp_path: Path) -> None:
    with empty_database(backend, tmp_path, "lead_pii_migration") as url:
        upgrade(MIGRATIONS, url, "0003")
        _write_old_rows(url)
        upgrade(MIGRATIONS, url)
        assert schema_drift(url, metadata) == []

        settings = ServiceSettings()
        codec = PiiCodec.from_settings(settings.pii_keys, settings.pii_index_key)
        engine = make_engine(url, pool_size=1)
        try:
            with engine.connect() as conn:
                stored = "\n".join(str(tuple(r)) for t in (leads, contact_attempts, lead_behaviours) for r in conn.execute(select(t)))
                for needle in ("912345678", "987654321", "an.nguyen", "079099012345", "Nguyễn", "nguyen", "Bình", "binh", "hẹn", "gọi", "tôi là"):
                    assert needle not in stored.lower(), needle
                repository = LeadRepository(conn, codec)
                first = repository.get("lead-1", DataScope.bank_wide())
                assert (first.full_name, first.phone_e164, first.email, first.national_id) == PEOPLE[0][2:6]
                assert (first.note, first.status_note) == (PEOPLE[0][6], PEOPLE[0][6])
                assert [a.note for a in repository.contact_attempts("lead-1")] == ["gọi 0912345678"]
                assert repository.get("lead-3", DataScope.bank_wide()).full_name == "(erased)"
                assert repository.find_open_duplicates(["+84912345678", "+84987654321"], ["an.nguyen@example.com"]) == {
                    ("phone", "+84912345678"): "lead-1",
                    ("phone", "+84987654321"): "lead-2",
                    ("email", "an.nguyen@example.com"): "lead-1",
                }
                by_name = repository.search(LeadFilter(name_prefix="thi b"), Page(size=10, after=None), DataScope.bank_wide())[0]
                assert [lead.lead_id for lead in by_name] == ["lead-2"]
                assert repository.search(LeadFilter(name_prefix="erased"), Page(size=10, after=None), DataScope.bank_wide())[0] == []

            command.downgrade(alembic_config(MIGRATIONS, url), "0003")
            old = MetaData()
            old.reflect(engine, only=["leads", "contact_attempts", "lead_behaviours"])
            with engine.connect() as conn:
                rows = {r.lead_id: r for r in conn.execute(select(old.tables["leads"]))}
                assert (rows["lead-1"].full_name, rows["lead-1"].name_folded, rows["lead-1"].phone_e164) == (
                    "Nguyễn Văn An",
                    "nguyen van an",
                    "+84912345678",
                )
                assert (rows["lead-1"].national_id, rows["lead-1"].note) == ("079099012345", "anh An hẹn gọi lại")
                assert (rows["lead-3"].full_name, rows["lead-3"].name_folded) == ("(erased)", "")
                assert conn.scalar(select(old.tables["lead_behaviours"].c.detail)) == "tôi là Nguyễn Văn An"
        finally:
            engine.dispose()
