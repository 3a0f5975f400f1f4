"""The audit log's pure parts: which ids a call names, the row a record makes, the chain's hash."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta, timezone

from crm.audit.v1 import audit_service_pb2
from crm.lead.v1 import lead_pb2, lead_service_pb2
from crm_common.audit import chain
from crm_common.audit.record import MAX_OBJECT_IDS, AuditRecord, generated_ids
from crm_common.grpc.audit import PURPOSE, object_ids


def test_request_ids_at_the_top_level_and_one_level_down_without_keys_or_personal_data() -> None:
    request = lead_service_pb2.CreateLeadRequest(
        request_id="req-1",
        lead=lead_pb2.LeadInput(
            contact=lead_pb2.ContactInput(national_id="079123456789"),
            source=lead_pb2.LeadSource(campaign_id="cmp-1", cookie_id="ck-1"),
        ),
    )
    # campaign_id is two levels down; request_id is a key; national_id and cookie_id are personal data.
    assert object_ids(request) == []
    assert object_ids(lead_service_pb2.GetLeadRequest(lead_id="lead-1")) == ["lead-1"]
    assert object_ids(lead_service_pb2.ListLeadsRequest(owner_id="rm-a", team_id="t-1")) == ["rm-a", "t-1"]


def test_response_ids_of_every_returned_object() -> None:
    response = lead_service_pb2.ListLeadsResponse(leads=[lead_pb2.Lead(lead_id="l-1"), lead_pb2.Lead(lead_id="l-2"), lead_pb2.Lead(lead_id="l-1")])
    assert object_ids(response) == ["l-1", "l-2"]
    results = lead_service_pb2.ImportLeadsResponse(results=[lead_service_pb2.ImportRowResult(lead_id=f"l-{i}") for i in range(MAX_OBJECT_IDS + 5)])
    assert len(object_ids(results)) == MAX_OBJECT_IDS
    assert object_ids(None) == []


def test_a_record_makes_one_row_with_its_ids_once_and_the_outcome() -> None:
    record = AuditRecord("lead", "/crm.lead.v1.LeadService/GetLead", datetime(2026, 12, 2, tzinfo=UTC), "ab" * 16, "kyc-review", ["l-1"])
    record.subject, record.roles, record.client_id = "rm-a", ("rm",), "branch-app"
    assert record.row("NOT_FOUND", ["l-1", "l-2"]) == {
        "occurred_at": datetime(2026, 12, 2, tzinfo=UTC),
        "subject": "rm-a",
        "roles": ["rm"],
        "client_id": "branch-app",
        "service": "lead",
        "rpc": "/crm.lead.v1.LeadService/GetLead",
        "object_ids": ["l-1", "l-2"],
        "outcome": "NOT_FOUND",
        "trace_id": "ab" * 16,
        "purpose": "kyc-review",
    }


def test_only_generated_ids_of_idempotency_results_count_as_objects() -> None:
    made = "0b9e4bb1-4f4a-4bd4-9d2e-7f0a4b1f2c3d"
    assert generated_ids(made, "removed", "", f"{made}:CREATED") == [made, made]


def test_purpose_codes() -> None:
    assert PURPOSE.fullmatch("complaint:CASE-123")
    assert PURPOSE.fullmatch("kyc-review")
    assert not PURPOSE.fullmatch("call Nguyễn Văn An about his loan")
    assert not PURPOSE.fullmatch("x" * 101)


def row(**changes: object) -> dict[str, object]:
    base: dict[str, object] = {
        "id": 7,
        "seal_seq": 3,
        "occurred_at": datetime(2026, 12, 2, 16, 0, 0, 123456, tzinfo=timezone(timedelta(hours=7))),
        "subject": "rm-a",
        "roles": ["rm"],
        "client_id": "",
        "service": "lead",
        "rpc": "/crm.lead.v1.LeadService/GetLead",
        "object_ids": ["l-1"],
        "outcome": "OK",
        "trace_id": "",
        "purpose": "",
        "prev_hash": "ignored",
        "row_hash": "ignored",
    }
    return {**base, **changes}


def test_the_hash_is_sha256_of_the_previous_hash_and_the_canonical_row() -> None:
    canonical = chain.canonical(row())
    assert canonical == (
        b'{"client_id":"","id":7,"object_ids":["l-1"],"occurred_at":"2026-12-02T09:00:00.123456+00:00","outcome":"OK",'
        b'"purpose":"","roles":["rm"],"rpc":"/crm.lead.v1.LeadService/GetLead","seal_seq":3,"service":"lead","subject":"rm-a","trace_id":""}'
    )
    assert chain.row_hash(chain.GENESIS, row()) == hashlib.sha256(chain.GENESIS.encode() + canonical).hexdigest()
    # Every field counts, the place in the chain included; the stored hashes do not.
    assert chain.row_hash(chain.GENESIS, row(seal_seq=4)) != chain.row_hash(chain.GENESIS, row())
    assert chain.row_hash(chain.GENESIS, row(outcome="PERMISSION_DENIED")) != chain.row_hash(chain.GENESIS, row())
    assert chain.row_hash("1" * 64, row()) != chain.row_hash(chain.GENESIS, row())
    assert chain.row_hash(chain.GENESIS, row(row_hash="x")) == chain.row_hash(chain.GENESIS, row())


def test_audit_entries_carry_ids_only() -> None:
    # The contract has no field for personal data: ids, codes and times.
    names = {f.name for f in audit_service_pb2.AuditEntry.DESCRIPTOR.fields}
    expected = {"entry_id", "occur_time", "subject", "roles", "client_id", "service", "rpc", "object_ids", "outcome", "trace_id", "purpose"}
    assert names == expected | {"seal_seq"}


def test_a_row_can_always_be_stored_whatever_the_caller_sent() -> None:
    record = AuditRecord("lead", "/crm.lead.v1.LeadService/GetLead", datetime(2026, 12, 2, tzinfo=UTC), object_ids=["l-\x00\x1f1", "x" * 500])
    record.subject, record.client_id = "rm\x00a", "c" * 300
    row = record.row("INVALID_ARGUMENT")
    assert row["object_ids"] == ["l-\ufffd\ufffd1", "x" * 200]
    assert (row["subject"], row["client_id"]) == ("rm\ufffda", "c" * 200)
