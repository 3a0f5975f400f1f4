"""The lead service's event worker (nameko): what it does with other services' events."""

from __future__ import annotations

from crm.account.v1.events_pb2 import AccountsMerged, AccountsUnmerged, ErasureRequested
from crm.opportunity.v1.events_pb2 import OpportunityCreated
from crm.territory.v1.events_pb2 import LeadRouted
from crm_common.events.consumer import Delivery, EventContext, ServiceHandlers, event_handler
from crm_common.grpc.enums import enum_name
from crm_common.privacy import PersonIdentifiers
from crm_lead.bootstrap import bootstrap
from crm_lead.config import LeadSettings


class LeadWorker:
    name = "lead"
    context = EventContext()
    use_cases = ServiceHandlers(LeadSettings, bootstrap)

    @event_handler("opportunity", OpportunityCreated)
    def on_opportunity_created(self, delivery: Delivery) -> str:
        """Closed loop: a lead's opportunity is tracked on the lead (its outcome comes later)."""
        opportunity = delivery.event.opportunity
        if not opportunity.source_lead_id:
            return "ignored"
        from crm.opportunity.v1 import opportunity_pb2

        first = self.use_cases.closed_loop.on_opportunity_created(
            delivery.consumer,
            delivery.event_id,
            opportunity.opportunity_id,
            opportunity.source_lead_id,
            enum_name(opportunity_pb2.OpportunityStatus, opportunity.status, field="opportunity.status"),
            opportunity.amount.amount_minor if opportunity.HasField("amount") else None,
            opportunity.amount.currency_code if opportunity.HasField("amount") else "",
        )
        return "ok" if first else "duplicate"

    @event_handler("territory-quota", LeadRouted)
    def on_lead_routed(self, delivery: Delivery) -> str:
        """The territory rules routed a lead: assign it (its first-contact SLA starts now)."""
        event: LeadRouted = delivery.event
        decision = event.decision
        return self.use_cases.assignment.assign_routed(
            delivery.consumer, delivery.event_id, event.lead_id, decision.owner_id, decision.team_id, decision.rule_id, decision.territory_id
        )

    @event_handler("account", ErasureRequested)
    def on_erasure_requested(self, delivery: Delivery) -> str:
        """A person was erased: blank the personal fields of every lead of theirs and confirm."""
        event: ErasureRequested = delivery.event
        person = PersonIdentifiers.from_erasure_request(event)
        return self.use_cases.privacy.erase_person(delivery.consumer, delivery.event_id, event.erasure_id, person)

    @event_handler("account", AccountsMerged)
    def on_accounts_merged(self, delivery: Delivery) -> str:
        """Two accounts became one: the merged account's leads point at the survivor."""
        event: AccountsMerged = delivery.event
        return self.use_cases.account_events.relink_account(delivery.consumer, delivery.event_id, event.merged_id, event.survivor_id, event.merge_id)

    @event_handler("account", AccountsUnmerged)
    def on_accounts_unmerged(self, delivery: Delivery) -> str:
        """A merge was undone: the leads it relinked point at the restored account again."""
        event: AccountsUnmerged = delivery.event
        return self.use_cases.account_events.unrelink_account(
            delivery.consumer, delivery.event_id, event.merged_id, event.survivor_id, event.merge_id
        )
