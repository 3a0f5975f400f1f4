"""The opportunity worker: its part of a data-subject erasure, on a real database (both backends)."""

from __future__ import annotations

from datetime import UTC, datetime

from nameko.testing.services import worker_factory
from sqlalchemy import select

from crm.account.v1 import events_pb2 as account_events
from crm.common.v1 import common_pb2
from crm.common.v1.common_pb2 import ErasureConfirmed
from crm.opportunity.v1 import opportunity_service_pb2
from crm.opportunity.v1.opportunity_service_pb2_grpc import OpportunityServiceStub
from crm_common.db import new_id
from crm_common.events.dead_letters import consumer_queues
from crm_common.events.envelope import new_event
from crm_common.testing import LiveService, bearer, delivery
from crm_opportunity.entrypoints.worker import OpportunityWorker

CONSUMER = "opportunity.on_erasure_requested"


def test_the_worker_consumes_erasures_on_its_own_queue() -> None:
    assert OpportunityWorker.name == "opportunity"
    assert sorted(consumer_queues(OpportunityWorker)) == [
        "evt-account-AccountsMerged--opportunity.on_accounts_merged",
        "evt-account-AccountsUnmerged--opportunity.on_accounts_unmerged",
        "evt-account-ErasureRequested--opportunity.on_erasure_requested",
        "evt-lead-LeadContacted--opportunity.on_lead_contacted",
        "evt-los-LosDecisionReported--opportunity.on_los_decision_reported",
        "evt-territory-quota-AccountTerritoryAssigned--opportunity.on_account_territory_assigned",
    ]


def test_an_erasure_is_confirmed_once(api: LiveService) -> None:
    worker: OpportunityWorker = worker_factory(OpportunityWorker, use_cases=api.app.use_cases)
    event = new_event(account_events.ErasureRequested, "account", "erase-1", datetime.now(UTC), erasure_id=new_id(), account_id=new_id())
    assert worker.on_erasure_requested(delivery(event, CONSUMER)) == "0 activity(ies) anonymised"
    assert worker.on_erasure_requested(delivery(event, CONSUMER)) == "duplicate"
    outbox = api.metadata.tables["outbox"]
    with api.engine.connect() as conn:
        [payload] = conn.scalars(select(outbox.c.payload).where(outbox.c.event_type == "ErasureConfirmed"))
    confirmation = ErasureConfirmed.FromString(payload)
    assert (confirmation.erasure_id, confirmation.service, confirmation.metadata.producer) == (
        event.erasure_id,
        "opportunity",
        "opportunity",
    )


def test_a_merge_relinks_the_merged_accounts_opportunities_once(api: LiveService) -> None:
    stub = OpportunityServiceStub(api.channel)
    merged_id, survivor_id, bystander = new_id(), new_id(), new_id()
    for account_id, lead_id in ((merged_id, "lead-1"), (merged_id, "lead-2"), (bystander, "lead-3")):
        request = opportunity_service_pb2.CreateOpportunityRequest(
            request_id=new_id(), account_id=account_id, product=common_pb2.PRODUCT_TYPE_CREDIT_CARD, source_lead_id=lead_id
        )
        stub.CreateOpportunity(request, metadata=bearer("rm-1", ["rm"]))
    worker: OpportunityWorker = worker_factory(OpportunityWorker, use_cases=api.app.use_cases)
    event = new_event(account_events.AccountsMerged, "account", "merge-1", datetime.now(UTC), survivor_id=survivor_id, merged_id=merged_id)
    consumer = "opportunity.on_accounts_merged"
    assert worker.on_accounts_merged(delivery(event, consumer)) == "2 opportunity(ies) and 0 activity(ies) relinked"
    assert worker.on_accounts_merged(delivery(event, consumer)) == "duplicate"

    def of(account_id: str) -> int:
        listing = opportunity_service_pb2.ListOpportunitiesRequest(account_id=account_id)
        return len(stub.ListOpportunities(listing, metadata=bearer("rm-1", ["rm"])).opportunities)

    assert (of(merged_id), of(survivor_id), of(bystander)) == (0, 2, 1)


def test_an_unmerge_moves_back_exactly_what_its_merge_relinked(api: LiveService) -> None:
    stub = OpportunityServiceStub(api.channel)
    rm = bearer("rm-1", ["rm"])
    merged_id, survivor_id, merge_id = new_id(), new_id(), new_id()

    def create(account_id: str, lead_id: str) -> None:
        request = opportunity_service_pb2.CreateOpportunityRequest(
            request_id=new_id(), account_id=account_id, product=common_pb2.PRODUCT_TYPE_CREDIT_CARD, source_lead_id=lead_id
        )
        stub.CreateOpportunity(request, metadata=rm)

    def of(account_id: str) -> set[str]:
        listing = stub.ListOpportunities(opportunity_service_pb2.ListOpportunitiesRequest(account_id=account_id), metadata=rm)
        return {o.source_lead_id for o in listing.opportunities}

    create(merged_id, "lead-1")
    create(merged_id, "lead-2")
    create(survivor_id, "lead-3")
    worker: OpportunityWorker = worker_factory(OpportunityWorker, use_cases=api.app.use_cases)
    ids = {"survivor_id": survivor_id, "merged_id": merged_id, "merge_id": merge_id}
    merged = new_event(account_events.AccountsMerged, "account", "merge-1", datetime.now(UTC), **ids)
    unmerged = new_event(account_events.AccountsUnmerged, "account", "unmerge-1", datetime.now(UTC), **ids)
    assert worker.on_accounts_merged(delivery(merged, "opportunity.on_accounts_merged")) == "2 opportunity(ies) and 0 activity(ies) relinked"
    create(survivor_id, "lead-4")  # on the survivor after the merge: it stays there

    consumer = "opportunity.on_accounts_unmerged"
    assert worker.on_accounts_unmerged(delivery(unmerged, consumer)) == "2 opportunity(ies) and 0 activity(ies) moved back"
    assert worker.on_accounts_unmerged(delivery(unmerged, consumer)) == "duplicate"
    assert (of(merged_id), of(survivor_id)) == ({"lead-1", "lead-2"}, {"lead-3", "lead-4"})
    # A late redelivery of the merge (another event id) after the unmerge moves nothing.
    late = new_event(account_events.AccountsMerged, "account", "merge-1", datetime.now(UTC), **ids)
    assert worker.on_accounts_merged(delivery(late, "opportunity.on_accounts_merged")) == "already unmerged"
    assert of(merged_id) == {"lead-1", "lead-2"}
