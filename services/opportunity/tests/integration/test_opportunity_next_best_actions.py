"""Next best actions through the real gRPC API over SQLite and PostgreSQL, with the facts they
read from activities and from the lead service's LeadContacted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from nameko.testing.services import worker_factory
from sqlalchemy import select, update

from crm.common.v1 import common_pb2
from crm.lead.v1 import events_pb2 as lead_events
from crm.opportunity.v1 import opportunity_pb2, opportunity_service_pb2
from crm.opportunity.v1.opportunity_service_pb2_grpc import OpportunityServiceStub
from crm_common.db import new_id
from crm_common.events.envelope import new_event
from crm_common.testing import LiveService, bearer, delivery
from crm_opportunity.adapters.orm import lead_first_contacts, opportunities
from crm_opportunity.entrypoints.worker import OpportunityWorker

RM = bearer("rm-1", ["rm"])
S = opportunity_service_pb2
OPP = opportunity_pb2


def at(days: float) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(datetime.now(UTC) + timedelta(days=days))
    return stamp


def create(stub: OpportunityServiceStub, amount: int, **fields: Any) -> OPP.Opportunity:
    request = S.CreateOpportunityRequest(
        request_id=new_id(), account_id=new_id(), product=common_pb2.PRODUCT_TYPE_MORTGAGE, amount=common_pb2.Money(amount_minor=amount), **fields
    )
    return stub.CreateOpportunity(request, metadata=RM).opportunity


def actions(stub: OpportunityServiceStub, opportunity_id: str) -> list[tuple[int, int, str]]:
    reply = stub.GetNextBestActions(S.GetNextBestActionsRequest(opportunity_id=opportunity_id), metadata=RM)
    return [(a.action, a.priority, a.rule) for a in reply.actions]


def test_a_big_mortgage_past_its_close_date_without_a_meeting(api: LiveService, stub: OpportunityServiceStub) -> None:
    deal = create(stub, 3_000_000_000, expected_close_time=at(-3))
    found = {action for action, _, _ in actions(stub, deal.opportunity_id)}
    assert {OPP.SUGGESTED_ACTION_UPDATE_CLOSE_DATE, OPP.SUGGESTED_ACTION_SCHEDULE_MEETING} <= found
    meeting = S.CreateActivityRequest(
        request_id=new_id(), kind=OPP.ACTIVITY_KIND_MEETING, subject="Gặp tại chi nhánh", opportunity_id=deal.opportunity_id, due_time=at(2)
    )
    stub.CreateActivity(meeting, metadata=RM)
    assert OPP.SUGGESTED_ACTION_SCHEDULE_MEETING not in {action for action, _, _ in actions(stub, deal.opportunity_id)}
    reasons = stub.GetNextBestActions(S.GetNextBestActionsRequest(opportunity_id=deal.opportunity_id), metadata=RM).actions
    assert all(a.reason and a.rule and 1 <= a.priority <= 5 for a in reasons)


def test_idle_beyond_the_stage_norm_suggests_a_call(api: LiveService, stub: OpportunityServiceStub) -> None:
    deal = create(stub, 100_000_000, expected_close_time=at(40))
    with api.engine.begin() as conn:  # three weeks in qualification (norm 7 days)
        conn.execute(
            update(opportunities)
            .where(opportunities.c.opportunity_id == deal.opportunity_id)
            .values(stage_entered_at=datetime.now(UTC) - timedelta(days=21))
        )
    reply = stub.GetNextBestActions(S.GetNextBestActionsRequest(opportunity_id=deal.opportunity_id), metadata=RM).actions
    call = next(a for a in reply if a.action == OPP.SUGGESTED_ACTION_CALL_CUSTOMER)
    assert "21" in call.reason and "qualification" in call.reason


def test_a_breached_first_contact_of_the_source_lead_says_contact_now(api: LiveService, stub: OpportunityServiceStub) -> None:
    worker: OpportunityWorker = worker_factory(OpportunityWorker, use_cases=api.app.use_cases)
    contacted = new_event(
        lead_events.LeadContacted, "lead", "", datetime.now(UTC), lead_id="lead-77", minutes_to_first_contact=300, first_contact_sla_breached=True
    )
    message = delivery(contacted, "opportunity.on_lead_contacted")
    assert worker.on_lead_contacted(message) == "breached"
    assert worker.on_lead_contacted(message) == "duplicate"
    deal = create(stub, 50_000_000, expected_close_time=at(30), source_lead_id="lead-77")
    assert (OPP.SUGGESTED_ACTION_CONTACT_NOW, 1) in {(action, priority) for action, priority, _ in actions(stub, deal.opportunity_id)}


def test_a_first_contact_within_the_first_minute_is_recorded(api: LiveService, stub: OpportunityServiceStub) -> None:
    """Regression: minutes_to_first_contact 0 (contacted within a minute of assignment) was
    taken for "not a first contact" and recorded nothing; first_contact says it is one."""
    worker: OpportunityWorker = worker_factory(OpportunityWorker, use_cases=api.app.use_cases)
    now = datetime.now(UTC)
    fast = new_event(lead_events.LeadContacted, "lead", "", now, lead_id="lead-fast", minutes_to_first_contact=0, first_contact=True)
    later = new_event(lead_events.LeadContacted, "lead", "", now, lead_id="lead-fast", minutes_to_first_contact=0, first_contact=False)
    assert worker.on_lead_contacted(delivery(fast, "opportunity.on_lead_contacted")) == "in time"
    assert worker.on_lead_contacted(delivery(later, "opportunity.on_lead_contacted")) == "not a first contact"
    with api.engine.connect() as conn:
        rows = conn.execute(select(lead_first_contacts.c.lead_id, lead_first_contacts.c.sla_breached)).all()
    assert [tuple(r) for r in rows] == [("lead-fast", False)]
    deal = create(stub, 50_000_000, expected_close_time=at(30), source_lead_id="lead-fast")
    assert OPP.SUGGESTED_ACTION_CONTACT_NOW not in {action for action, _, _ in actions(stub, deal.opportunity_id)}


def test_an_rms_book_is_ranked_and_closed_ones_get_nothing(api: LiveService, stub: OpportunityServiceStub) -> None:
    small = create(stub, 100_000_000, expected_close_time=at(-1))
    big = create(stub, 900_000_000, expected_close_time=at(-1))
    closed = create(stub, 500_000_000, expected_close_time=at(-1))
    stub.LoseOpportunity(S.LoseOpportunityRequest(request_id=new_id(), opportunity_id=closed.opportunity_id, reason_code="PRICE"), metadata=RM)
    assert actions(stub, closed.opportunity_id) == []
    book = stub.GetBookActions(S.GetBookActionsRequest(), metadata=RM)
    assert book.open_opportunities == 2
    update_dates = [a.opportunity_id for a in book.actions if a.action == OPP.SUGGESTED_ACTION_UPDATE_CLOSE_DATE]
    assert update_dates == [big.opportunity_id, small.opportunity_id]  # same priority: the bigger first
    priorities = [a.priority for a in book.actions]
    assert priorities == sorted(priorities)
    assert len(stub.GetBookActions(S.GetBookActionsRequest(limit=1), metadata=RM).actions) == 1


def test_bad_requests(api: LiveService, stub: OpportunityServiceStub) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        stub.GetNextBestActions(S.GetNextBestActionsRequest(opportunity_id=new_id()), metadata=RM)
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as caught:
        stub.GetBookActions(S.GetBookActionsRequest(limit=5000), metadata=RM)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_the_sweep_brings_time_driven_actions_into_the_book(api: LiveService, stub: OpportunityServiceStub) -> None:
    deal = create(stub, 100_000_000, expected_close_time=at(40))

    def book_actions() -> set[int]:
        return {a.action for a in stub.GetBookActions(S.GetBookActionsRequest(), metadata=RM).actions if a.opportunity_id == deal.opportunity_id}

    assert OPP.SUGGESTED_ACTION_CALL_CUSTOMER not in book_actions()
    with api.engine.begin() as conn:  # three weeks pass in qualification (norm 7 days), with no change
        three_weeks_ago = datetime.now(UTC) - timedelta(days=21)
        conn.execute(update(opportunities).where(opportunities.c.opportunity_id == deal.opportunity_id).values(stage_entered_at=three_weeks_ago))
    assert OPP.SUGGESTED_ACTION_CALL_CUSTOMER not in book_actions()
    assert api.app.use_cases.next_best_actions.refresh_all_actions() >= 1
    assert OPP.SUGGESTED_ACTION_CALL_CUSTOMER in book_actions()
