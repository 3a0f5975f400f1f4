"""A request_id is the caller's own (issue 11): another subject replaying it runs a new request and
never gets the first caller's result; the same caller reusing it for another request is refused.
Through the real API on both backends, the capture hot path (one statement on PostgreSQL) included."""

from __future__ import annotations

import uuid

import grpc
import pytest

from crm.lead.v1 import lead_pb2
from crm.lead.v1 import lead_service_pb2 as svc
from crm_common.grpc.status import field_violations
from crm_common.testing import bearer

ALICE = bearer("mkt-alice", ["marketing"])
BOB = bearer("mkt-bob", ["marketing"])


def test_another_subject_replaying_a_capture_key_gets_a_new_lead_not_the_first(lead_input, app) -> None:
    key = str(uuid.uuid4())
    first = app.stub.CreateLead(svc.CreateLeadRequest(request_id=key, lead=lead_input()), metadata=ALICE).lead
    other = app.stub.CreateLead(svc.CreateLeadRequest(request_id=key, lead=lead_input(phone="0987 000 111", email="binh@example.com")), metadata=BOB)
    assert other.lead.lead_id != first.lead_id
    # Bob's own contact (masked: marketing lacks pii.read), not Alice's +849*****678.
    assert other.lead.contact.full_name == "Nguyễn Văn An" and other.lead.contact.phone.e164 == "+849*****111"
    assert app.count("leads") == 2 and app.count("idempotency_keys") == 2
    # Each caller's repeat still answers its own first result.
    assert app.stub.CreateLead(svc.CreateLeadRequest(request_id=key, lead=lead_input()), metadata=ALICE).lead.lead_id == first.lead_id


def test_another_subject_replaying_the_same_capture_is_a_duplicate_not_a_repeat(lead_input, app) -> None:
    request = svc.CreateLeadRequest(request_id=str(uuid.uuid4()), lead=lead_input())
    app.stub.CreateLead(request, metadata=ALICE)
    with pytest.raises(grpc.RpcError) as err:
        app.stub.CreateLead(request, metadata=BOB)
    assert err.value.code() == grpc.StatusCode.ALREADY_EXISTS  # judged as Bob's own capture
    assert app.count("leads") == 1


def test_the_same_subject_reusing_a_key_for_another_capture_is_refused(lead_input, app) -> None:
    key = str(uuid.uuid4())
    app.stub.CreateLead(svc.CreateLeadRequest(request_id=key, lead=lead_input()), metadata=ALICE)
    with pytest.raises(grpc.RpcError) as err:
        app.stub.CreateLead(svc.CreateLeadRequest(request_id=key, lead=lead_input(phone="0987 000 111", email="")), metadata=ALICE)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field_violations(err.value) == [("request_id", "already used for a different request")]
    assert app.count("leads") == 1


def test_a_web_form_key_is_scoped_to_its_caller(app) -> None:
    key = str(uuid.uuid4())
    form = svc.CaptureWebFormRequest(request_id=key, full_name="Lê Văn Hùng", phone="0912000111", product_interest=1)
    first = app.stub.CaptureWebForm(form, metadata=ALICE).lead
    other_form = svc.CaptureWebFormRequest(request_id=key, full_name="Phạm Thu", phone="0912000222", product_interest=1)
    other = app.stub.CaptureWebForm(other_form, metadata=BOB).lead
    assert other.lead_id != first.lead_id and app.count("leads") == 2
    with pytest.raises(grpc.RpcError) as err:
        app.stub.CaptureWebForm(other_form, metadata=ALICE)
    assert field_violations(err.value) == [("request_id", "already used for a different request")]


def test_another_subject_replaying_a_conversion_key_does_not_get_its_result(lead_input, app) -> None:
    # Worked in one branch, whose two managers both reach the lead (data scopes).
    manager = bearer("head-of-sales", ["branch_manager"], branches=["HCM-01"])
    first, second = bearer("bm-1", ["branch_manager"], branches=["HCM-01"]), bearer("bm-2", ["branch_manager"], branches=["HCM-01"])
    lead = app.stub.CreateLead(svc.CreateLeadRequest(request_id=str(uuid.uuid4()), lead=lead_input()), metadata=ALICE).lead
    app.stub.AssignLead(
        svc.AssignLeadRequest(request_id=str(uuid.uuid4()), lead_id=lead.lead_id, owner_id="agent-7", branch_id="HCM-01"), metadata=manager
    )
    agent = bearer("agent-7", ["telesales"])
    attempt = svc.RecordContactAttemptRequest(
        request_id=str(uuid.uuid4()), lead_id=lead.lead_id, channel=lead_pb2.CONTACT_CHANNEL_PHONE, outcome=lead_pb2.CONTACT_OUTCOME_REACHED
    )
    app.stub.RecordContactAttempt(attempt, metadata=agent)
    app.stub.QualifyLead(svc.QualifyLeadRequest(request_id=str(uuid.uuid4()), lead_id=lead.lead_id), metadata=agent)
    request = svc.ConvertLeadRequest(request_id=str(uuid.uuid4()), lead_id=lead.lead_id)
    converted = app.stub.ConvertLead(request, metadata=first)
    assert app.stub.ConvertLead(request, metadata=first).conversion == converted.conversion
    with pytest.raises(grpc.RpcError) as err:  # bm-2's own conversion of a converted lead, not bm-1's answer
        app.stub.ConvertLead(request, metadata=second)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
