"""Assignment, contact, qualification and conversion through the real gRPC API."""

from __future__ import annotations

import uuid

import grpc
import pytest

from crm.lead.v1 import lead_pb2
from crm.lead.v1 import lead_service_pb2 as svc
from crm_common.auth import Principal, use_principal
from crm_common.testing import bearer


def rid() -> str:
    return str(uuid.uuid4())


# The sales floor's branch: the manager reaches its leads and the telesales team's (data scopes).
BRANCH = "HCM-01"


@pytest.fixture
def manager():
    return bearer("head-of-sales", ["sales_manager", "branch_manager"], teams=["telesales-hcm"], branches=[BRANCH])


def capture(app, **overrides) -> lead_pb2.Lead:
    return app.stub.CreateLead(svc.CreateLeadRequest(request_id=rid(), lead=app.lead_input(**overrides)), metadata=bearer("mkt", ["marketing"])).lead


def to_sql(app, manager, lead_id: str) -> lead_pb2.Lead:
    """Worked by telesales agent-7 in the branch up to SQL, then handed to RM rm-1 to convert."""
    app.stub.AssignLead(svc.AssignLeadRequest(request_id=rid(), lead_id=lead_id, owner_id="agent-7", branch_id=BRANCH), metadata=manager)
    app.stub.RecordContactAttempt(
        svc.RecordContactAttemptRequest(
            request_id=rid(), lead_id=lead_id, channel=lead_pb2.CONTACT_CHANNEL_PHONE, outcome=lead_pb2.CONTACT_OUTCOME_REACHED
        ),
        metadata=bearer("agent-7", ["telesales"]),
    )
    app.stub.QualifyLead(svc.QualifyLeadRequest(request_id=rid(), lead_id=lead_id, note="wants a card"), metadata=bearer("agent-7", ["telesales"]))
    return app.stub.AssignLead(svc.AssignLeadRequest(request_id=rid(), lead_id=lead_id, owner_id="rm-1"), metadata=manager).lead


def test_round_robin_assignment_within_a_team(app, manager) -> None:
    app.stub.SetTeamMembers(svc.SetTeamMembersRequest(request_id=rid(), team_id="telesales-hcm", member_ids=["a1", "a2", "a3"]), metadata=manager)
    owners = []
    for i in range(6):
        lead = capture(app, phone=f"090{i}000111", email=f"rr{i}@example.com")
        reply = app.stub.AssignLead(svc.AssignLeadRequest(request_id=rid(), lead_id=lead.lead_id, team_id="telesales-hcm"), metadata=manager)
        owners.append(reply.lead.assignment.owner_id)
        assert reply.lead.assignment.first_contact_due_time.seconds > reply.lead.assignment.assign_time.seconds
    assert owners == ["a1", "a2", "a3", "a1", "a2", "a3"]
    assert app.outbox_types().count("LeadAssigned") == 6


def test_assignment_needs_exactly_one_target_and_an_existing_team(app, manager) -> None:
    lead = capture(app)
    with pytest.raises(grpc.RpcError) as err:
        app.stub.AssignLead(svc.AssignLeadRequest(request_id=rid(), lead_id=lead.lead_id), metadata=manager)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.RpcError) as err:
        app.stub.AssignLead(svc.AssignLeadRequest(request_id=rid(), lead_id=lead.lead_id, team_id="ghost-team"), metadata=manager)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


def test_status_machine_refuses_illegal_moves(app, manager, admin) -> None:
    new_lead = capture(app, product_interest=0)
    assert new_lead.status == lead_pb2.LEAD_STATUS_NEW
    # The leads stay unassigned here: a caller reaching every lead (test_lead_data_scopes.py: who reaches what).
    telesales = admin
    with pytest.raises(grpc.RpcError) as err:
        app.stub.QualifyLead(svc.QualifyLeadRequest(request_id=rid(), lead_id=new_lead.lead_id), metadata=telesales)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "MQL" in err.value.details()
    with pytest.raises(grpc.RpcError) as err:
        app.stub.AssignLead(svc.AssignLeadRequest(request_id=rid(), lead_id=new_lead.lead_id, owner_id="agent-7"), metadata=manager)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION

    mql = capture(app, phone="0977000111", email="mql@example.com")
    with pytest.raises(grpc.RpcError) as err:  # not talked to yet
        app.stub.QualifyLead(svc.QualifyLeadRequest(request_id=rid(), lead_id=mql.lead_id), metadata=telesales)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    with pytest.raises(grpc.RpcError) as err:
        app.stub.ConvertLead(svc.ConvertLeadRequest(request_id=rid(), lead_id=mql.lead_id), metadata=admin)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION

    disqualified = app.stub.DisqualifyLead(
        svc.DisqualifyLeadRequest(request_id=rid(), lead_id=mql.lead_id, reason=lead_pb2.DISQUALIFICATION_REASON_NOT_ELIGIBLE, note="income too low"),
        metadata=telesales,
    ).lead
    assert disqualified.status == lead_pb2.LEAD_STATUS_DISQUALIFIED
    with pytest.raises(grpc.RpcError) as err:
        app.stub.QualifyLead(svc.QualifyLeadRequest(request_id=rid(), lead_id=mql.lead_id), metadata=telesales)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    nurtured = app.stub.ReturnToNurture(svc.ReturnToNurtureRequest(request_id=rid(), lead_id=mql.lead_id), metadata=telesales).lead
    assert nurtured.status == lead_pb2.LEAD_STATUS_NURTURE
    assert not nurtured.HasField("assignment")  # hidden from sales
    assert app.outbox_types()[-1] == "LeadReturnedToNurture"
    with pytest.raises(grpc.RpcError) as err:
        app.stub.DisqualifyLead(svc.DisqualifyLeadRequest(request_id=rid(), lead_id=mql.lead_id), metadata=telesales)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_contact_attempts_record_the_first_contact_sla(app, manager) -> None:
    lead = capture(app)
    app.stub.AssignLead(svc.AssignLeadRequest(request_id=rid(), lead_id=lead.lead_id, owner_id="agent-7", branch_id=BRANCH), metadata=manager)
    reply = app.stub.RecordContactAttempt(
        svc.RecordContactAttemptRequest(
            request_id=rid(), lead_id=lead.lead_id, channel=lead_pb2.CONTACT_CHANNEL_PHONE, outcome=lead_pb2.CONTACT_OUTCOME_NO_ANSWER
        ),
        metadata=bearer("agent-7", ["telesales"]),
    )
    assert reply.lead.status == lead_pb2.LEAD_STATUS_CONTACTED
    assert reply.lead.first_contact_time.seconds > 0
    assert not reply.lead.first_contact_sla_breached
    got = app.stub.GetLead(svc.GetLeadRequest(lead_id=lead.lead_id), metadata=manager)
    assert [a.outcome for a in got.contact_attempts] == [lead_pb2.CONTACT_OUTCOME_NO_ANSWER]


def test_conversion_creates_account_and_opportunity_once(app, manager) -> None:
    lead = to_sql(app, manager, capture(app).lead_id)
    assert lead.status == lead_pb2.LEAD_STATUS_SQL
    rm = bearer("rm-1", ["rm"])
    request = svc.ConvertLeadRequest(request_id=rid(), lead_id=lead.lead_id)
    reply = app.stub.ConvertLead(request, metadata=rm)
    assert reply.lead.status == lead_pb2.LEAD_STATUS_CONVERTED
    assert reply.conversion.account_id and reply.conversion.opportunity_id
    again = app.stub.ConvertLead(request, metadata=rm)
    assert again.conversion.opportunity_id == reply.conversion.opportunity_id
    with pytest.raises(grpc.RpcError) as err:  # a new conversion of a converted lead
        app.stub.ConvertLead(svc.ConvertLeadRequest(request_id=rid(), lead_id=lead.lead_id), metadata=rm)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert len(app.accounts.by_request) == 1 and len(app.opportunities.by_request) == 1
    created = next(iter(app.opportunities.by_request.values()))[1]
    assert created.campaign_id == "cmp-tet-2027" and created.lead_id == lead.lead_id and created.product == "CREDIT_CARD"
    assert app.outbox_types().count("LeadConverted") == 1


def test_conversion_with_a_peer_down_stays_sql_and_completes_on_retry(app, manager) -> None:
    lead = to_sql(app, manager, capture(app).lead_id)
    rm = bearer("rm-1", ["rm"])
    app.opportunities.down = True
    request = svc.ConvertLeadRequest(request_id=rid(), lead_id=lead.lead_id)
    with pytest.raises(grpc.RpcError) as err:
        app.stub.ConvertLead(request, metadata=rm)
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE
    assert app.stub.GetLead(svc.GetLeadRequest(lead_id=lead.lead_id), metadata=rm).lead.status == lead_pb2.LEAD_STATUS_SQL
    assert len(app.accounts.by_request) == 1  # the account step is done and remembered
    app.opportunities.down = False
    reply = app.stub.ConvertLead(request, metadata=rm)
    assert reply.lead.status == lead_pb2.LEAD_STATUS_CONVERTED
    assert len(app.accounts.by_request) == 1 and len(app.opportunities.by_request) == 1
    assert app.outbox_types().count("LeadConverted") == 1


def test_recovery_completes_an_abandoned_conversion(app, manager) -> None:
    from datetime import timedelta

    lead = to_sql(app, manager, capture(app).lead_id)
    rm = bearer("rm-1", ["rm"])
    app.accounts.down = True
    request = svc.ConvertLeadRequest(request_id=rid(), lead_id=lead.lead_id)
    with pytest.raises(grpc.RpcError):
        app.stub.ConvertLead(request, metadata=rm)
    app.accounts.down = False
    with use_principal(Principal("service:lead", ("service",))):  # as the API process's recovery loop runs it
        assert app.use_cases.conversion.resume_stalled_conversions(older_than=timedelta(seconds=-1)) == 1
    assert app.stub.GetLead(svc.GetLeadRequest(lead_id=lead.lead_id), metadata=rm).lead.status == lead_pb2.LEAD_STATUS_CONVERTED
    # The caller's retry now answers with the finished conversion, not an error.
    assert app.stub.ConvertLead(request, metadata=rm).lead.status == lead_pb2.LEAD_STATUS_CONVERTED
    assert app.outbox_types().count("LeadConverted") == 1


def test_leads_with_marketing_are_hidden_from_sales(app, manager) -> None:
    new = capture(app, product_interest=0, phone="0905111222", email="new@example.com")
    mql = capture(app, phone="0905333444", email="mql@example.com")
    # A telesales lead who distributes the queue (leads.assign) reaches the unassigned leads.
    telesales, marketing = bearer("agent-7", ["telesales"], scope="leads.assign"), bearer("mkt-2", ["marketing"])
    seen_by_sales = {x.lead_id for x in app.stub.ListLeads(svc.ListLeadsRequest(), metadata=telesales).leads}
    assert seen_by_sales == {mql.lead_id}
    assert app.stub.ListLeads(svc.ListLeadsRequest(statuses=[lead_pb2.LEAD_STATUS_NEW]), metadata=telesales).leads == []
    seen_by_marketing = {x.lead_id for x in app.stub.ListLeads(svc.ListLeadsRequest(), metadata=marketing).leads}
    assert seen_by_marketing == {new.lead_id, mql.lead_id}
    with pytest.raises(grpc.RpcError) as err:
        app.stub.GetLead(svc.GetLeadRequest(lead_id=new.lead_id), metadata=telesales)
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert app.stub.GetLead(svc.GetLeadRequest(lead_id=new.lead_id), metadata=manager).lead.status == lead_pb2.LEAD_STATUS_NEW


def test_a_stalled_conversion_is_claimed_by_one_recovery_loop_at_a_time(app, manager) -> None:
    from datetime import timedelta

    from crm_common.db import utcnow

    lead = to_sql(app, manager, capture(app).lead_id)
    app.accounts.down = True
    with pytest.raises(grpc.RpcError):
        app.stub.ConvertLead(svc.ConvertLeadRequest(request_id=rid(), lead_id=lead.lead_id), metadata=bearer("rm-1", ["rm"]))
    later = utcnow() + timedelta(minutes=5)
    claims = []
    for _replica in range(2):  # two recovery loops looking at the same moment
        with app.uow() as uow:
            claims.append(uow.leads.claim_stalled_conversions(later - timedelta(minutes=1), later))
            uow.commit()
    assert claims == [[lead.lead_id], []]
