"""Data-subject rights through the real gRPC API over SQLite and PostgreSQL: export, legal hold,
erasure and its tracking to completion."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import grpc
import pytest
from account_participants import FakeParticipants
from nameko.testing.services import worker_factory
from sqlalchemy import select, text

from crm.account.v1 import account_pb2, account_service_pb2, events_pb2
from crm.account.v1.account_service_pb2_grpc import AccountServiceStub
from crm.common.v1 import common_pb2
from crm_account.entrypoints.worker import AccountWorker
from crm_account.service_layer.use_cases import AccountUseCases
from crm_common.auth import Principal, use_principal
from crm_common.db import new_id
from crm_common.events.envelope import new_event
from crm_common.testing import LiveService, bearer, delivery

RM = bearer("rm-1", ["rm"])
DPO = bearer("dpo-1", ["privacy_officer"])
CORE_BANKING = bearer("core-banking", ["service"])
CALL_CENTRE = bearer("ts-1", ["telesales", "marketing"])
R = account_service_pb2
K = account_pb2


@pytest.fixture
def account_id(api: LiveService, stub: AccountServiceStub) -> str:
    account = account_pb2.AccountInput(
        full_name="Đinh Thị Phương",
        national_id="079301012345",
        date_of_birth=common_pb2.Date(year=2001, month=5, day=17),
        gender=K.GENDER_FEMALE,
        phones=["0912345678"],
        emails=["phuong.dinh@example.vn"],
        address=account_pb2.Address(line="9 Pasteur", province_code="79"),
    )
    created = stub.CreateAccount(R.CreateAccountRequest(request_id=new_id(), account=account), metadata=RM).account
    consent = R.RecordConsentRequest(
        request_id=new_id(),
        account_id=created.account_id,
        purpose=K.CONSENT_PURPOSE_MARKETING,
        channel=K.CONTACT_CHANNEL_SMS,
        status=K.CONSENT_STATUS_GRANTED,
        source="branch_form",
        evidence_ref="form-77",
    )
    stub.RecordConsent(consent, metadata=CALL_CENTRE)
    return str(created.account_id)


# Contact-centre agents and managers here serve any customer: their tokens add marketing's
# bank-wide reach (no pii.read); who reaches which customer is tested in test_account_data_scopes.py.


def erase(stub: AccountServiceStub, account_id: str, metadata: Any = DPO) -> account_pb2.ErasureRequest:
    reply: R.RequestErasureResponse = stub.RequestErasure(
        R.RequestErasureRequest(request_id=new_id(), account_id=account_id, reason="customer's request, ticket 4411"), metadata=metadata
    )
    return reply.erasure


def rpc_error(call: Callable[..., object], *args: Any, **kwargs: Any) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        call(*args, **kwargs)
    return caught.value


def test_the_export_holds_everything_in_machine_readable_form(stub: AccountServiceStub, account_id: str) -> None:
    reply = stub.ExportPersonalData(R.ExportPersonalDataRequest(account_id=account_id), metadata=DPO)
    assert reply.content_type.startswith("application/json")
    document = json.loads(reply.document)
    assert document["schema"] == "crm.account.export/v2"
    own = document["services"]["account"]
    assert (own["account"]["national_id"], own["account"]["emails"]) == ("079301012345", ["phuong.dinh@example.vn"])
    assert [c["source"] for c in own["consents_in_force"]] == ["branch_form"]
    assert [c["evidence_ref"] for c in own["consent_history"]] == ["form-77"]
    assert {entry["kind"] for entry in own["timeline"]} >= {"CREATED", "CONSENT_CHANGED"}
    changes = stub.ListAccountChanges(R.ListAccountChangesRequest(account_id=account_id), metadata=RM).changes
    assert changes[0].kind == "DATA_EXPORTED" and "dpo-1" in changes[0].reason


def test_erasure_anonymises_here_at_once_and_completes_with_every_confirmation(
    api: LiveService, stub: AccountServiceStub, use_cases: AccountUseCases, account_id: str
) -> None:
    erasure = erase(stub, account_id)
    assert (erasure.status, list(erasure.pending_services)) == (K.ERASURE_STATUS_IN_PROGRESS, ["lead", "opportunity"])

    account = stub.GetAccount(R.GetAccountRequest(account_id=account_id), metadata=RM).account
    assert (account.full_name, account.national_id, list(account.phones), list(account.emails)) == ("(erased)", "", [], [])
    assert (account.lifecycle_stage, account.HasField("date_of_birth"), account.HasField("address")) == (K.LIFECYCLE_STAGE_CLOSED, False, False)
    assert account.erase_time.seconds > 0
    assert list(stub.SearchAccounts(R.SearchAccountsRequest(phone="0912345678"), metadata=RM).accounts) == []
    with api.engine.connect() as conn:
        for table in ("account_contact_points", "account_match_keys", "consents", "consent_history"):
            assert conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one() == 0, table
        stored = " ".join(str(v) for row in conn.execute(text("SELECT * FROM accounts")) for v in row)
    assert "Phương" not in stored and "Pasteur" not in stored
    [requested] = api.events(events_pb2.ErasureRequested)
    assert (requested.erasure_id, requested.account_id) == (erasure.erasure_id, account_id)

    worker: AccountWorker = worker_factory(AccountWorker, use_cases=use_cases)

    def confirmed(service: str) -> Any:
        event = new_event(
            common_pb2.ErasureConfirmed, service, "", datetime.now(UTC), erasure_id=erasure.erasure_id, account_id=account_id, service=service
        )
        return delivery(event, f"account.on_{service}_erasure_confirmed")

    with use_principal(Principal("service:account", ("service",))):
        lead_done = confirmed("lead")
        assert worker.on_lead_erasure_confirmed(lead_done) == "IN_PROGRESS"
        assert worker.on_lead_erasure_confirmed(lead_done) == "duplicate"
        assert worker.on_opportunity_erasure_confirmed(confirmed("opportunity")) == "COMPLETED"
    done = stub.GetErasureRequest(R.GetErasureRequestRequest(erasure_id=erasure.erasure_id), metadata=DPO).erasure
    assert (done.status, list(done.pending_services), sorted(done.confirmed_services)) == (K.ERASURE_STATUS_COMPLETED, [], ["lead", "opportunity"])
    [completed] = api.events(events_pb2.ErasureCompleted)
    assert completed.erasure_id == erasure.erasure_id
    assert rpc_error(erase, stub, account_id).code() == grpc.StatusCode.FAILED_PRECONDITION


def test_a_legal_hold_blocks_erasure_until_lifted(stub: AccountServiceStub, account_id: str) -> None:
    def hold(on: bool) -> None:
        request = R.SetLegalHoldRequest(request_id=new_id(), account_id=account_id, legal_hold=on, reason="court order 12/2026")
        stub.SetLegalHold(request, metadata=DPO)

    hold(True)
    error = rpc_error(erase, stub, account_id)
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION and "legal hold: court order 12/2026" in (error.details() or "")
    hold(False)
    assert erase(stub, account_id).status == K.ERASURE_STATUS_IN_PROGRESS


def test_open_products_block_erasure(stub: AccountServiceStub, account_id: str) -> None:
    row = R.HoldingRecord(
        account_id=account_id,
        core_ref="CASA-1",
        product_type=common_pb2.PRODUCT_TYPE_CASA,
        status=K.HOLDING_STATUS_OPEN,
        balance=common_pb2.Money(amount_minor=5),
    )
    stub.ImportHoldings(R.ImportHoldingsRequest(request_id=new_id(), rows=[row]), metadata=CORE_BANKING)
    error = rpc_error(erase, stub, account_id)
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION and "open product" in (error.details() or "")


def test_only_the_privacy_officer(stub: AccountServiceStub, account_id: str) -> None:
    assert rpc_error(erase, stub, account_id, RM).code() == grpc.StatusCode.PERMISSION_DENIED
    export = R.ExportPersonalDataRequest(account_id=account_id)
    assert rpc_error(stub.ExportPersonalData, export, metadata=RM).code() == grpc.StatusCode.PERMISSION_DENIED


def merged_away_account(stub: AccountServiceStub, survivor_id: str) -> str:
    """A second account of the same person (an old phone and email, a converting lead), merged
    into `survivor_id` by a data steward."""
    account = account_pb2.AccountInput(full_name="Đinh Thị Phương", phones=["0987 000 111"], emails=["phuong.old@example.vn"])
    old = stub.CreateAccount(R.CreateAccountRequest(request_id=new_id(), account=account), metadata=RM).account
    merge = R.MergeAccountsRequest(request_id=new_id(), survivor_id=survivor_id, merged_id=old.account_id, reason="same person, ticket 12")
    stub.MergeAccounts(merge, metadata=bearer("steward-1", ["data_steward"]))
    return str(old.account_id)


def test_the_export_has_a_section_per_service_and_names_the_person_by_every_identifier(
    api: LiveService, stub: AccountServiceStub, participants: FakeParticipants, account_id: str
) -> None:
    merged_id = merged_away_account(stub, account_id)
    document = json.loads(stub.ExportPersonalData(R.ExportPersonalDataRequest(account_id=account_id), metadata=DPO).document)
    assert sorted(document["services"]) == ["account", "lead", "opportunity"]
    assert document["subject"] == {"account_id": account_id, "merged_account_ids": [merged_id]}
    assert document["services"]["lead"] == {"service": "lead", "accounts": [account_id, merged_id]}
    [merged] = document["services"]["account"]["merged_accounts"]
    assert (merged["account_id"], merged["full_name"], merged["merged_into"]) == (merged_id, "Đinh Thị Phương", account_id)

    audit_log = api.metadata.tables["audit_log"]
    with api.engine.connect() as conn:
        rows = conn.execute(select(audit_log.c.subject, audit_log.c.object_ids).where(audit_log.c.rpc.endswith("/ExportPersonalData"))).all()
    assert [(r.subject, set(r.object_ids)) for r in rows] == [("dpo-1", {account_id, merged_id})]  # committed with the timeline entry

    [person] = participants.asked
    index = _index(api)
    assert person.account_ids == (account_id, merged_id)
    assert set(person.phone_indexes) >= {index("phone", "+84912345678"), index("phone", "+84987000111")}
    assert set(person.email_indexes) >= {index("email", "phuong.dinh@example.vn"), index("email", "phuong.old@example.vn")}
    assert index("national_id", "079301012345") in person.national_id_indexes


def test_an_export_a_service_cannot_give_its_section_to_fails_and_is_not_recorded(
    stub: AccountServiceStub, participants: FakeParticipants, account_id: str
) -> None:
    participants.down = {"opportunity"}
    error = rpc_error(stub.ExportPersonalData, R.ExportPersonalDataRequest(account_id=account_id), metadata=DPO)
    assert error.code() == grpc.StatusCode.UNAVAILABLE and "opportunity" in (error.details() or "")
    changes = stub.ListAccountChanges(R.ListAccountChangesRequest(account_id=account_id), metadata=RM).changes
    assert "DATA_EXPORTED" not in {c.kind for c in changes}


def test_the_erasure_request_names_the_person_by_blind_indexes_and_erases_merged_away_accounts(
    api: LiveService, stub: AccountServiceStub, account_id: str
) -> None:
    merged_id = merged_away_account(stub, account_id)
    erase(stub, account_id)
    [requested] = api.events(events_pb2.ErasureRequested)
    index = _index(api)
    assert list(requested.person.account_ids) == [account_id, merged_id]
    assert set(requested.person.phone_indexes) >= {index("phone", "+84912345678"), index("phone", "+84987000111")}
    assert index("national_id", "079301012345") in requested.person.national_id_indexes
    # Blind indexes only: no value of the person travels in the event.
    payload = requested.SerializeToString()
    for value in ("0912345678", "84912345678", "phuong.dinh@example.vn", "079301012345", "Phương"):
        assert value.encode() not in payload, value
    tombstone = stub.GetAccount(R.GetAccountRequest(account_id=merged_id), metadata=RM).account
    assert tombstone.account_id == account_id  # the merged id still resolves to the survivor
    with api.engine.connect() as conn:
        stored = " ".join(str(v) for row in conn.execute(text("SELECT * FROM accounts")) for v in row)
        merges = " ".join(str(v) for row in conn.execute(text("SELECT survivor_snapshot, merged_snapshot, moves FROM account_merges")) for v in row)
    assert "Phương" not in stored and "Pasteur" not in stored
    # No unmerge brings the person back, and the merge log keeps none of their blind indexes.
    assert "Phương" not in merges and index("phone", "+84987000111") not in merges and index("email", "phuong.old@example.vn") not in merges


def _index(api: LiveService) -> Callable[[str, str], str]:
    """The blind index the service computes (PII_INDEX_KEY of its settings)."""
    from crm_common.pii import BlindIndex

    return BlindIndex.from_base64(api.settings.pii_index_key)
