"""Activities' free text (subjects, notes, outcomes) is encrypted at rest, withheld from events,
rotated with `crm-opportunity pii reencrypt|reindex`, and migration 0012 encrypts the rows
written in clear before it. On SQLite and PostgreSQL, through the real gRPC API."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import MetaData, insert, select

from crm.opportunity.v1 import events_pb2, opportunity_pb2, opportunity_service_pb2
from crm.opportunity.v1.opportunity_service_pb2_grpc import OpportunityServiceStub
from crm_common.auth import DataScope
from crm_common.db import make_engine, new_id
from crm_common.migrations import alembic_config, upgrade
from crm_common.pagination import Page
from crm_common.pii import DEV_PII_INDEX_KEY, DEV_PII_KEYS, PiiCodec
from crm_common.testing import BACKENDS, LiveService, bearer, empty_database, schema_drift
from crm_opportunity.adapters.activity_repository import ActivityRepository
from crm_opportunity.adapters.orm import activities, metadata
from crm_opportunity.entrypoints.cli import main

RM = bearer("rm-1", ["rm"])
S = opportunity_service_pb2
MIGRATIONS = "crm_opportunity:migrations"
NEW_KEY = "k2:" + base64.b64encode(bytes(range(32))).decode()
SUBJECT = "Gọi anh Nguyễn Văn Hùng"
NOTES = "Anh Hùng, 0912 345 678, CCCD 079099012345, thích gặp buổi tối"
OUTCOME = "đã gửi bảng lương cho hung.nguyen@example.com"
NEEDLES = ("Nguyễn", "Hùng", "0912 345 678", "079099012345", "hung.nguyen", "bảng lương")


def plant(stub: OpportunityServiceStub) -> str:
    """A call with personal data in every free-text field, completed."""
    create = S.CreateActivityRequest(request_id=new_id(), kind=opportunity_pb2.ACTIVITY_KIND_CALL, subject=SUBJECT, notes=NOTES, account_id=new_id())
    activity_id = stub.CreateActivity(create, metadata=RM).activity.activity_id
    done = stub.CompleteActivity(S.CompleteActivityRequest(request_id=new_id(), activity_id=activity_id, outcome=OUTCOME), metadata=RM).activity
    assert (done.subject, done.notes, done.outcome) == (SUBJECT, NOTES, OUTCOME)  # the RM holds pii.read
    return str(activity_id)


def stored(api: LiveService) -> str:
    with api.engine.connect() as conn:
        return "\n".join(str(tuple(row)) for row in conn.execute(select(activities)))


def test_a_raw_select_finds_no_plaintext_and_the_api_reads_it_back(api: LiveService, stub: OpportunityServiceStub) -> None:
    activity_id = plant(stub)
    rows = stored(api)
    assert activity_id in rows
    for needle in NEEDLES:
        assert needle not in rows, needle
    [listed] = stub.ListActivities(S.ListActivitiesRequest(account_id=_account_of(api, activity_id)), metadata=RM).activities
    assert (listed.subject, listed.notes, listed.outcome) == (SUBJECT, NOTES, OUTCOME)


def _account_of(api: LiveService, activity_id: str) -> str:
    with api.engine.connect() as conn:
        return str(conn.scalar(select(activities.c.account_id).where(activities.c.activity_id == activity_id)))


def test_activity_completed_carries_no_free_text(api: LiveService, stub: OpportunityServiceStub) -> None:
    activity_id = plant(stub)
    [event] = api.events(events_pb2.ActivityCompleted)
    assert event.activity.activity_id == activity_id
    assert (event.activity.subject, event.activity.notes, event.activity.outcome) == ("(hidden)", "(hidden)", "(hidden)")
    outbox = metadata.tables["outbox"]
    with api.engine.connect() as conn:
        payloads = b"".join(conn.scalars(select(outbox.c.payload)))
    for needle in NEEDLES:
        assert needle.encode() not in payloads, needle


def test_reencrypt_moves_every_token_to_the_current_key(api: LiveService, stub: OpportunityServiceStub, monkeypatch: pytest.MonkeyPatch) -> None:
    activity_id = plant(stub)

    def key_ids() -> set[str]:
        with api.engine.connect() as conn:
            row = conn.execute(select(activities.c.subject_enc, activities.c.notes_enc, activities.c.outcome_enc)).one()
        return {token.split(":")[0] for token in row}

    def run(keys: str, action: str) -> None:
        monkeypatch.setenv("DATABASE_URL", api.database_url)
        monkeypatch.setenv("PII_KEYS", keys)
        monkeypatch.setenv("PII_INDEX_KEY", DEV_PII_INDEX_KEY)
        assert main(["pii", action]) == 0

    assert key_ids() == {"dev1"}
    run(f"{NEW_KEY},{DEV_PII_KEYS}", "reencrypt")
    assert key_ids() == {"k2"}
    run(f"{NEW_KEY},{DEV_PII_KEYS}", "reencrypt")  # a re-run changes nothing
    run(f"{NEW_KEY},{DEV_PII_KEYS}", "reindex")  # no blind index over free text: nothing to do, no error
    with api.engine.connect() as conn:
        activity = ActivityRepository(conn, PiiCodec.from_settings(NEW_KEY, DEV_PII_INDEX_KEY)).get(activity_id, DataScope.bank_wide())
    assert (activity.subject, activity.notes, activity.outcome) == (SUBJECT, NOTES, OUTCOME)


@pytest.mark.parametrize("backend", BACKENDS)
def test_migration_0012_encrypts_existing_rows_and_a_downgrade_decrypts_them(backend: str, tmp_path: Path) -> None:
    now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    with empty_database(backend, tmp_path, "opportunity_pii_migration") as url:
        upgrade(MIGRATIONS, url, "0011")
        engine = make_engine(url, pool_size=1)
        try:
            old = MetaData()
            old.reflect(engine, only=["activities"])
            row = {"activity_id": "act-1", "kind": "CALL", "account_id": "acc-1", "opportunity_id": "", "owner_id": "rm-1", "status": "COMPLETED"}
            row |= {
                "subject": SUBJECT,
                "notes": NOTES,
                "outcome": OUTCOME,
                "created_at": now,
                "created_by": "rm-1",
                "updated_at": now,
                "updated_by": "rm-1",
            }
            erased = row | {"activity_id": "act-2", "subject": "(erased)", "notes": "", "outcome": ""}
            with engine.begin() as conn:
                conn.execute(insert(old.tables["activities"]), [row, erased])

            upgrade(MIGRATIONS, url)
            assert schema_drift(url, metadata) == []
            with engine.connect() as conn:
                rows = "\n".join(str(tuple(r)) for r in conn.execute(select(activities)))
                for needle in (*NEEDLES, "(erased)"):
                    assert needle not in rows, needle
                repository = ActivityRepository(conn, PiiCodec.from_settings(DEV_PII_KEYS, DEV_PII_INDEX_KEY))
                found, _ = repository.of("", "acc-1", Page(size=10, after=None), DataScope.bank_wide())
                assert {(a.activity_id, a.subject, a.notes, a.outcome) for a in found} == {
                    ("act-1", SUBJECT, NOTES, OUTCOME),
                    ("act-2", "(erased)", "", ""),
                }

            command.downgrade(alembic_config(MIGRATIONS, url), "0011")
            old = MetaData()
            old.reflect(engine, only=["activities"])
            with engine.connect() as conn:
                back = {r.activity_id: (r.subject, r.notes, r.outcome) for r in conn.execute(select(old.tables["activities"]))}
            assert back == {"act-1": (SUBJECT, NOTES, OUTCOME), "act-2": ("(erased)", "", "")}
        finally:
            engine.dispose()
