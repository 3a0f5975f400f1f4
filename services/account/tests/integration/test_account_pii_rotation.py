"""Key rotation of stored PII with `crm-account pii reencrypt|reindex`, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64

import pytest
from sqlalchemy import select

from crm.account.v1 import account_pb2, account_service_pb2
from crm.account.v1.account_service_pb2_grpc import AccountServiceStub
from crm_account.adapters.orm import account_contact_points, account_merges, accounts
from crm_account.adapters.repository import AccountRepository, PiiCodec
from crm_account.domain.model import ContactKeys
from crm_account.entrypoints.cli import main
from crm_common.auth import DataScope
from crm_common.db import new_id
from crm_common.pagination import Page
from crm_common.pii import DEV_PII_INDEX_KEY, DEV_PII_KEYS, load_pii
from crm_common.testing import LiveService, bearer

RM = bearer("rm-1", ["rm"])
NEW_KEY = "k2:" + base64.b64encode(bytes(range(32))).decode()
NEW_INDEX_KEY = base64.b64encode(bytes(range(100, 132))).decode()


def create(stub: AccountServiceStub, national_id: str, phone: str) -> str:
    account = account_pb2.AccountInput(full_name="Phạm Minh Châu", national_id=national_id, phones=[phone], emails=[f"chau{phone[-3:]}@example.vn"])
    reply = stub.CreateAccount(account_service_pb2.CreateAccountRequest(request_id=new_id(), account=account), metadata=RM)
    return str(reply.account.account_id)


def run(monkeypatch: pytest.MonkeyPatch, api: LiveService, keys: str, index_key: str, action: str) -> None:
    monkeypatch.setenv("DATABASE_URL", api.database_url)
    monkeypatch.setenv("PII_KEYS", keys)
    monkeypatch.setenv("PII_INDEX_KEY", index_key)
    assert main(["pii", action]) == 0


def tokens(api: LiveService) -> list[str]:
    with api.engine.connect() as conn:
        return [t for t in conn.scalars(select(accounts.c.national_id_enc)) if t] + list(conn.scalars(select(account_contact_points.c.value_enc)))


def test_reencrypt_moves_every_token_to_the_current_key(api: LiveService, stub: AccountServiceStub, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = [create(stub, "001099012345", "0912345678"), create(stub, "", "0987654321")]
    assert {t.split(":")[0] for t in tokens(api)} == {"dev1"}

    run(monkeypatch, api, f"{NEW_KEY},{DEV_PII_KEYS}", DEV_PII_INDEX_KEY, "reencrypt")
    assert {t.split(":")[0] for t in tokens(api)} == {"k2"}
    run(monkeypatch, api, f"{NEW_KEY},{DEV_PII_KEYS}", DEV_PII_INDEX_KEY, "reencrypt")  # a re-run changes nothing

    # With only the new key the data still reads and is still found.
    codec = PiiCodec(*load_pii(NEW_KEY, DEV_PII_INDEX_KEY))
    with api.engine.connect() as conn:
        repository = AccountRepository(conn, codec)
        first = repository.get(ids[0], DataScope.bank_wide())
        assert (first.profile.national_id, first.profile.phones) == ("001099012345", ("+84912345678",))
        found, _ = repository.search(ContactKeys(phone_e164="+84987654321"), "", Page(size=10, after=None), DataScope.bank_wide())
        assert [a.account_id for a in found] == [ids[1]]


def test_reindex_makes_lookups_work_under_a_new_index_key(api: LiveService, stub: AccountServiceStub, monkeypatch: pytest.MonkeyPatch) -> None:
    account_id = create(stub, "001099012345", "0912345678")
    run(monkeypatch, api, DEV_PII_KEYS, NEW_INDEX_KEY, "reindex")

    codec = PiiCodec(*load_pii(DEV_PII_KEYS, NEW_INDEX_KEY))
    with api.engine.connect() as conn:
        repository = AccountRepository(conn, codec)
        assert [a.account_id for a in repository.sharing_keys(ContactKeys(national_id="001099012345"))] == [account_id]
        assert [a.account_id for a in repository.sharing_keys(ContactKeys(email="chau678@example.vn"))] == [account_id]
        assert repository.find_by_national_id("001099012345") is not None


def test_reencrypt_reaches_the_snapshots_an_unmerge_restores(api: LiveService, stub: AccountServiceStub, monkeypatch: pytest.MonkeyPatch) -> None:
    survivor, merged = create(stub, "001099012345", "0912345678"), create(stub, "", "0912345678")
    merge = account_service_pb2.MergeAccountsRequest(request_id=new_id(), survivor_id=survivor, merged_id=merged, reason="same person")
    stub.MergeAccounts(merge, metadata=bearer("steward-1", ["data_steward"]))
    run(monkeypatch, api, f"{NEW_KEY},{DEV_PII_KEYS}", DEV_PII_INDEX_KEY, "reencrypt")

    codec = PiiCodec(*load_pii(NEW_KEY, DEV_PII_INDEX_KEY))  # the old key dropped
    with api.engine.connect() as conn:
        [row] = conn.execute(select(account_merges.c.survivor_snapshot, account_merges.c.merged_snapshot)).all()
        repository = AccountRepository(conn, codec)
        before, merged_before = repository.from_snapshot(row.survivor_snapshot), repository.from_snapshot(row.merged_snapshot)
    assert (before.profile.national_id, merged_before.profile.phones) == ("001099012345", ("+84912345678",))
    assert "dev1:" not in row.survivor_snapshot + row.merged_snapshot
