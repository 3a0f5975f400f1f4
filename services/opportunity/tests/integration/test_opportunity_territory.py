"""The territory service's AccountTerritoryAssigned: the account's open opportunities take its
territory (and their forecast moves with them); closed ones keep theirs. Those the account's
previous RM owned go to the new RM and team; others keep their owner."""

from __future__ import annotations

from datetime import UTC, datetime

import grpc
import pytest
from nameko.testing.services import worker_factory

from crm.common.v1 import common_pb2
from crm.opportunity.v1 import events_pb2, opportunity_pb2, opportunity_service_pb2
from crm.opportunity.v1.opportunity_service_pb2_grpc import OpportunityServiceStub
from crm.territory.v1 import events_pb2 as territory_events
from crm.territory.v1 import territory_pb2
from crm_common.auth import Principal, use_principal
from crm_common.db import new_id
from crm_common.events.envelope import new_event
from crm_common.testing import LiveService, bearer, delivery
from crm_opportunity.entrypoints.worker import OpportunityWorker

RM = bearer("rm-1", ["rm"])
S = opportunity_service_pb2
CONSUMER = "opportunity.on_account_territory_assigned"


def assigned(account_id: str, territory_id: str, previous_owner_id: str = "") -> territory_events.AccountTerritoryAssigned:
    assignment = territory_pb2.AccountAssignment(account_id=account_id, territory_id=territory_id, owner_id="rm-a", team_id="T-A")
    return new_event(
        territory_events.AccountTerritoryAssigned, "territory-quota", "", datetime.now(UTC), assignment=assignment,
        previous_owner_id=previous_owner_id,
    )  # fmt: skip


def test_open_opportunities_follow_the_accounts_territory(api: LiveService, stub: OpportunityServiceStub) -> None:
    account_id = new_id()

    def create() -> opportunity_pb2.Opportunity:
        request = S.CreateOpportunityRequest(request_id=new_id(), account_id=account_id, product=common_pb2.PRODUCT_TYPE_MORTGAGE, territory_id="OLD")
        return stub.CreateOpportunity(request, metadata=RM).opportunity  # type: ignore[no-any-return]

    open_one, lost_one = create(), create()
    stub.LoseOpportunity(
        S.LoseOpportunityRequest(request_id=new_id(), opportunity_id=lost_one.opportunity_id, reason_code="CUSTOMER_WITHDREW"), metadata=RM
    )
    worker: OpportunityWorker = worker_factory(OpportunityWorker, use_cases=api.app.use_cases)
    event = assigned(account_id, "VN.NORTH.HN.HN01")
    with use_principal(Principal("service:territory-quota", ("service",))):
        assert worker.on_account_territory_assigned(delivery(event, CONSUMER)) == "1 open opportunity(ies) moved to VN.NORTH.HN.HN01"
        assert worker.on_account_territory_assigned(delivery(event, CONSUMER)) == "duplicate"
    get = lambda o: stub.GetOpportunity(S.GetOpportunityRequest(opportunity_id=o.opportunity_id), metadata=RM).opportunity  # noqa: E731
    assert get(open_one).territory_id == "VN.NORTH.HN.HN01"
    assert get(lost_one).territory_id == "OLD"
    updated = [e for e in api.events(events_pb2.OpportunityUpdated) if e.opportunity.opportunity_id == open_one.opportunity_id]
    assert list(updated[-1].changed_fields) == ["territory_id"]


def test_the_previous_rms_open_opportunities_go_to_the_new_rm(api: LiveService, stub: OpportunityServiceStub) -> None:
    account_id = new_id()
    specialist = bearer("rm-mortgage", ["rm"])

    def create(caller: list[tuple[str, str]]) -> opportunity_pb2.Opportunity:
        request = S.CreateOpportunityRequest(request_id=new_id(), account_id=account_id, product=common_pb2.PRODUCT_TYPE_MORTGAGE, territory_id="OLD")
        return stub.CreateOpportunity(request, metadata=caller).opportunity  # type: ignore[no-any-return]

    rms, specialists = create(RM), create(specialist)
    worker: OpportunityWorker = worker_factory(OpportunityWorker, use_cases=api.app.use_cases)
    with use_principal(Principal("service:territory-quota", ("service",))):
        reply = worker.on_account_territory_assigned(delivery(assigned(account_id, "VN.NORTH.HN.HN01", previous_owner_id="rm-1"), CONSUMER))
    assert reply == "2 open opportunity(ies) moved to VN.NORTH.HN.HN01"
    moved = stub.GetOpportunity(S.GetOpportunityRequest(opportunity_id=rms.opportunity_id), metadata=bearer("rm-a", ["rm"])).opportunity
    assert (moved.owner_id, moved.team_id, moved.territory_id) == ("rm-a", "T-A", "VN.NORTH.HN.HN01")
    with pytest.raises(grpc.RpcError) as gone:
        stub.GetOpportunity(S.GetOpportunityRequest(opportunity_id=rms.opportunity_id), metadata=RM)
    assert gone.value.code() == grpc.StatusCode.NOT_FOUND
    kept = stub.GetOpportunity(S.GetOpportunityRequest(opportunity_id=specialists.opportunity_id), metadata=specialist).opportunity
    assert (kept.owner_id, kept.territory_id) == ("rm-mortgage", "VN.NORTH.HN.HN01")
    updated = [e for e in api.events(events_pb2.OpportunityUpdated) if e.opportunity.opportunity_id == rms.opportunity_id]
    assert list(updated[-1].changed_fields) == ["owner_id", "team_id", "territory_id"]
