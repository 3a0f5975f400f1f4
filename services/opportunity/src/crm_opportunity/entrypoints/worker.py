"""The event worker (nameko, eventlet): the opportunity service's reactions to other services' events.

Lead conversion calls this service synchronously; the worker handles the account service's
merges (and their undoing) and erasures, and the loan origination system's decisions.
"""

from __future__ import annotations

from datetime import UTC, datetime

from crm.account.v1.events_pb2 import AccountsMerged, AccountsUnmerged, ErasureRequested
from crm.lead.v1.events_pb2 import LeadContacted
from crm.opportunity.v1.events_pb2 import LosDecisionReported
from crm.territory.v1.events_pb2 import AccountTerritoryAssigned
from crm_common.events.consumer import Delivery, EventContext, ServiceHandlers, event_handler
from crm_common.privacy import PersonIdentifiers
from crm_opportunity.adapters.proto_mapping import los_decision_from_proto
from crm_opportunity.bootstrap import bootstrap
from crm_opportunity.config import OpportunitySettings
from crm_opportunity.service_layer import commands


class OpportunityWorker:
    name = "opportunity"
    context = EventContext()
    # The same composition root as the API's: the worker reads the pipelines and NBA rules files too.
    use_cases = ServiceHandlers(OpportunitySettings, bootstrap)

    @event_handler("account", ErasureRequested)
    def on_erasure_requested(self, delivery: Delivery) -> str:
        """A person was erased: blank what people wrote about them, and confirm."""
        event: ErasureRequested = delivery.event
        person = PersonIdentifiers.from_erasure_request(event)
        return self.use_cases.account_events.erase_person(delivery.consumer, delivery.event_id, event.erasure_id, person)

    @event_handler("account", AccountsMerged)
    def on_accounts_merged(self, delivery: Delivery) -> str:
        """Two accounts became one: relink the merged account's opportunities to the survivor."""
        event: AccountsMerged = delivery.event
        return self.use_cases.account_events.relink_account(delivery.consumer, delivery.event_id, event.merged_id, event.survivor_id, event.merge_id)

    @event_handler("account", AccountsUnmerged)
    def on_accounts_unmerged(self, delivery: Delivery) -> str:
        """A merge was undone: what it relinked belongs to the restored account again."""
        event: AccountsUnmerged = delivery.event
        return self.use_cases.account_events.unrelink_account(
            delivery.consumer, delivery.event_id, event.merged_id, event.survivor_id, event.merge_id
        )

    @event_handler("territory-quota", AccountTerritoryAssigned)
    def on_account_territory_assigned(self, delivery: Delivery) -> str:
        """The account moved territory or RM: its open opportunities follow."""
        event: AccountTerritoryAssigned = delivery.event
        a = event.assignment
        return self.use_cases.account_events.follow_territory(
            delivery.consumer, delivery.event_id, a.account_id, a.territory_id, a.owner_id, a.team_id, event.previous_owner_id
        )

    @event_handler("los", LosDecisionReported)
    def on_los_decision_reported(self, delivery: Delivery) -> str:
        """The loan origination system decided on an application: won or lost."""
        event: LosDecisionReported = delivery.event
        decision = los_decision_from_proto(event)
        command = commands.ReportedLosDecision(delivery.consumer, delivery.event_id, decision, event.metadata.correlation_id)
        return self.use_cases.los.record_reported_los_decision(command)

    @event_handler("lead", LeadContacted)
    def on_lead_contacted(self, delivery: Delivery) -> str:
        """A lead's first contact and whether it broke the SLA, for its future opportunity's
        next best actions (later attempts are ignored). A first contact within the lead's first
        minute has minutes_to_first_contact 0: first_contact says it is one (an older lead
        service, without the flag, is read from the facts it sends)."""
        event: LeadContacted = delivery.event
        if not (event.first_contact or event.minutes_to_first_contact or event.first_contact_sla_breached):
            return "not a first contact"
        contacted_at = event.metadata.occur_time.ToDatetime(tzinfo=UTC) if event.metadata.HasField("occur_time") else datetime.now(UTC)
        return self.use_cases.next_best_actions.record_first_contact(
            delivery.consumer, delivery.event_id, event.lead_id, event.first_contact_sla_breached, contacted_at
        )
