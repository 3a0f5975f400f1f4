"""Reopening, and the hand-off to the loan origination system (by RPC and by event), through the
real gRPC API over SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from nameko.testing.services import worker_factory

from crm.common.v1 import common_pb2
from crm.opportunity.v1 import events_pb2, opportunity_pb2, opportunity_service_pb2
from crm.opportunity.v1.opportunity_service_pb2_grpc import OpportunityServiceStub
from crm_common.auth import Principal, use_principal
from crm_common.db import new_id
from crm_common.errors import NotFound
from crm_common.events.envelope import new_event
from crm_common.grpc.status import field_violations
from crm_common.testing import LiveService, bearer, delivery
from crm_opportunity.entrypoints.worker import OpportunityWorker

RM = bearer("rm-1", ["rm"])
LOS = bearer("los", ["service"])
S = opportunity_service_pb2
OPP = opportunity_pb2


def loan_ready_for_los(stub: OpportunityServiceStub) -> OPP.Opportunity:
    close = Timestamp()
    close.FromDatetime(datetime.now(UTC) + timedelta(days=20))
    request = S.CreateOpportunityRequest(
        request_id=new_id(),
        account_id=new_id(),
        product=common_pb2.PRODUCT_TYPE_UNSECURED_LOAN,
        amount=common_pb2.Money(amount_minor=300_000_000),
        expected_close_time=close,
    )
    opportunity = stub.CreateOpportunity(request, metadata=RM).opportunity
    for stage, items in (("needs_analysis", []), ("documents_collected", ["credit_check_consent_signed"])):
        move = S.MoveStageRequest(request_id=new_id(), opportunity_id=opportunity.opportunity_id, stage=stage, completed_items=items)
        stub.MoveStage(move, metadata=RM)
    checklist = S.MoveStageRequest(
        request_id=new_id(),
        opportunity_id=opportunity.opportunity_id,
        stage="needs_analysis",
        completed_items=["id_document_verified", "income_documents_collected"],
    )
    stub.MoveStage(checklist, metadata=RM)  # back, ticking the documents on the way
    stub.MoveStage(S.MoveStageRequest(request_id=new_id(), opportunity_id=opportunity.opportunity_id, stage="documents_collected"), metadata=RM)
    return opportunity


def submit(stub: OpportunityServiceStub, opportunity_id: str) -> OPP.Opportunity:
    reply: S.SubmitApplicationResponse = stub.SubmitApplication(
        S.SubmitApplicationRequest(request_id=new_id(), opportunity_id=opportunity_id), metadata=RM
    )
    return reply.opportunity


def decide(stub: OpportunityServiceStub, application_id: str, decision: int, **fields: Any) -> OPP.Opportunity:
    request = S.RecordLosDecisionRequest(request_id=new_id(), application_id=application_id, decision=decision, **fields)  # type: ignore[arg-type]
    reply: S.RecordLosDecisionResponse = stub.RecordLosDecision(request, metadata=LOS)
    return reply.opportunity


def rpc_error(call: Callable[..., object], *args: Any, **kwargs: Any) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        call(*args, **kwargs)
    return caught.value


def test_submitted_then_approved_becomes_won_at_the_approved_amount(api: LiveService, stub: OpportunityServiceStub) -> None:
    submitted = submit(stub, loan_ready_for_los(stub).opportunity_id)
    assert (submitted.stage, submitted.probability_percent) == ("submitted_to_los", 60) and submitted.application_id
    [handed] = api.events(events_pb2.ApplicationSubmitted)
    assert handed.application_id == submitted.application_id
    won = decide(stub, submitted.application_id, OPP.LOS_DECISION_APPROVED, approved_amount=common_pb2.Money(amount_minor=250_000_000))
    assert (won.status, won.amount.amount_minor) == (OPP.OPPORTUNITY_STATUS_WON, 250_000_000)
    assert api.events(events_pb2.OpportunityWon)[-1].won_amount.amount_minor == 250_000_000


def test_declined_becomes_lost_with_the_los_reason(api: LiveService, stub: OpportunityServiceStub) -> None:
    submitted = submit(stub, loan_ready_for_los(stub).opportunity_id)
    lost = decide(stub, submitted.application_id, OPP.LOS_DECISION_DECLINED, decline_reason="DTI above 60%")
    assert (lost.status, lost.lost_reason, lost.decision_note) == (OPP.OPPORTUNITY_STATUS_LOST, "NOT_ELIGIBLE", "DTI above 60%")


def test_submission_needs_a_credit_product_and_the_exit_criteria(api: LiveService, stub: OpportunityServiceStub) -> None:
    deposit = stub.CreateOpportunity(
        S.CreateOpportunityRequest(request_id=new_id(), account_id=new_id(), product=common_pb2.PRODUCT_TYPE_TERM_DEPOSIT), metadata=RM
    ).opportunity
    assert "not a credit product" in (rpc_error(submit, stub, deposit.opportunity_id).details() or "")
    fresh = stub.CreateOpportunity(
        S.CreateOpportunityRequest(request_id=new_id(), account_id=new_id(), product=common_pb2.PRODUCT_TYPE_MORTGAGE), metadata=RM
    ).opportunity
    assert "cannot skip" in (rpc_error(submit, stub, fresh.opportunity_id).details() or "")
    submitted = submit(stub, loan_ready_for_los(stub).opportunity_id)
    assert "already submitted" in (rpc_error(submit, stub, submitted.opportunity_id).details() or "")


def test_bad_decisions(api: LiveService, stub: OpportunityServiceStub) -> None:
    error = rpc_error(decide, stub, "", OPP.LOS_DECISION_DECLINED)
    assert sorted(f for f, _ in field_violations(error)) == ["application_id", "decline_reason"]
    assert rpc_error(decide, stub, new_id(), OPP.LOS_DECISION_APPROVED).code() == grpc.StatusCode.NOT_FOUND
    assert rpc_error(stub.RecordLosDecision, S.RecordLosDecisionRequest(request_id=new_id(), application_id="x", decision=1), metadata=RM).code() == (
        grpc.StatusCode.PERMISSION_DENIED
    )


def test_the_los_may_decide_by_event_once(api: LiveService, stub: OpportunityServiceStub) -> None:
    submitted = submit(stub, loan_ready_for_los(stub).opportunity_id)
    worker: OpportunityWorker = worker_factory(OpportunityWorker, use_cases=api.app.use_cases)
    event = new_event(events_pb2.LosDecisionReported, "los", "los-1", datetime.now(UTC), application_id=submitted.application_id, decision=1)
    message = delivery(event, "opportunity.on_los_decision_reported")
    with use_principal(Principal("service:los", ("service",))):
        assert worker.on_los_decision_reported(message) == "WON"
        assert worker.on_los_decision_reported(message) == "duplicate"
        unknown = new_event(events_pb2.LosDecisionReported, "los", "los-2", datetime.now(UTC), application_id=new_id(), decision=1)
        with pytest.raises(NotFound):  # retried, then dead-lettered
            worker.on_los_decision_reported(delivery(unknown, "opportunity.on_los_decision_reported"))


def test_reopening_a_won_opportunity_returns_it_to_its_stage_and_announces_the_clawback(api: LiveService, stub: OpportunityServiceStub) -> None:
    submitted = submit(stub, loan_ready_for_los(stub).opportunity_id)
    decide(stub, submitted.application_id, OPP.LOS_DECISION_APPROVED)
    request = S.ReopenOpportunityRequest(request_id=new_id(), opportunity_id=submitted.opportunity_id, reason="disbursement cancelled")
    reopened = stub.ReopenOpportunity(request, metadata=RM).opportunity
    assert (reopened.status, reopened.stage, reopened.decision_note) == (OPP.OPPORTUNITY_STATUS_OPEN, "submitted_to_los", "disbursement cancelled")
    assert not reopened.HasField("close_time")
    [event] = api.events(events_pb2.OpportunityReopened)
    assert (event.previous_status, event.reason) == (OPP.OPPORTUNITY_STATUS_WON, "disbursement cancelled")
    again = S.ReopenOpportunityRequest(request_id=new_id(), opportunity_id=submitted.opportunity_id, reason="again")
    assert rpc_error(stub.ReopenOpportunity, again, metadata=RM).code() == grpc.StatusCode.FAILED_PRECONDITION


def test_a_decided_application_takes_no_second_decision(api: LiveService, stub: OpportunityServiceStub) -> None:
    submitted = submit(stub, loan_ready_for_los(stub).opportunity_id)
    decide(stub, submitted.application_id, OPP.LOS_DECISION_APPROVED)
    error = rpc_error(decide, stub, submitted.application_id, OPP.LOS_DECISION_DECLINED, decline_reason="late")
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION and "already WON" in (error.details() or "")
    assert len(api.events(events_pb2.OpportunityWon)) == 1 and api.events(events_pb2.OpportunityLost) == []


def test_a_closed_opportunity_is_not_submitted(api: LiveService, stub: OpportunityServiceStub) -> None:
    ready = loan_ready_for_los(stub)
    lose = S.LoseOpportunityRequest(request_id=new_id(), opportunity_id=ready.opportunity_id, reason_code="CUSTOMER_WITHDREW")
    stub.LoseOpportunity(lose, metadata=RM)
    error = rpc_error(submit, stub, ready.opportunity_id)
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION and "LOST" in (error.details() or "")
    assert api.events(events_pb2.ApplicationSubmitted) == []
