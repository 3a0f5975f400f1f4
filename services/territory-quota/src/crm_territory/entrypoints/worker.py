"""The territory-quota service's event worker (nameko, eventlet): what it does with other
services' events. The territory half (below) keeps the attributes the rules read and decides on
them; the quota half (QuotaEventHandlers, entrypoints/quota_worker.py) credits attainment, keeps
the open pipeline and moves quota with accounts. Each handler has its own queue, so both halves
may consume the same event."""

from __future__ import annotations

from crm.account.v1.events_pb2 import AccountCreated, AccountUpdated
from crm.lead.v1.events_pb2 import LeadCaptured, LeadQualified, LeadScored
from crm.opportunity.v1.events_pb2 import OpportunityCreated, OpportunityLost, OpportunityReopened, OpportunityWon
from crm_common.events.consumer import Delivery, EventContext, ServiceHandlers, event_handler
from crm_common.grpc.enums import enum_name
from crm_territory.adapters.assignment_mapping import account_subject_from_event, lead_subject_from_event
from crm_territory.bootstrap import bootstrap
from crm_territory.config import TerritorySettings
from crm_territory.entrypoints.quota_worker import QuotaEventHandlers

# Account fields the rules never read: a change of only these (e.g. the account recording the
# owner this service gave it) is not re-evaluated.
_NOT_READ_BY_RULES = frozenset({"owner_id", "territory_id", "full_name", "phone", "phones", "email", "emails", "national_id", "note"})


class TerritoryWorker(QuotaEventHandlers):
    name = "territory-quota"
    context = EventContext()
    use_cases = ServiceHandlers(TerritorySettings, bootstrap)

    # Territory and assignment handlers.

    @event_handler("lead", LeadCaptured)
    def on_lead_captured(self, delivery: Delivery) -> str:
        """Keeps what the rules read of the lead; routes it at once when it is already an MQL."""
        subject, status = lead_subject_from_event(delivery.event.lead)
        return self.use_cases.routing.on_lead_captured(delivery.consumer, delivery.event_id, subject, status)

    @event_handler("lead", LeadScored)
    def on_lead_scored(self, delivery: Delivery) -> str:
        event: LeadScored = delivery.event
        return self.use_cases.routing.on_lead_scored(delivery.consumer, delivery.event_id, event.lead_id, event.score)

    @event_handler("lead", LeadQualified)
    def on_lead_qualified(self, delivery: Delivery) -> str:
        """A lead became an MQL or SQL later: route it (LeadRouted), unless it was routed before."""
        from crm.lead.v1 import lead_pb2

        event: LeadQualified = delivery.event
        status = enum_name(lead_pb2.LeadStatus, event.status)
        return self.use_cases.routing.on_lead_qualified(delivery.consumer, delivery.event_id, event.lead_id, status)

    @event_handler("account", AccountCreated)
    def on_account_created(self, delivery: Delivery) -> str:
        """A new account gets its territory and RM by the rules (AccountTerritoryAssigned)."""
        subject = account_subject_from_event(delivery.event.account)
        return self.use_cases.accounts.on_account_changed(delivery.consumer, delivery.event_id, subject)

    @event_handler("account", AccountUpdated)
    def on_account_updated(self, delivery: Delivery) -> str:
        """Each account is re-evaluated on its own change, unless nothing the rules read changed."""
        event: AccountUpdated = delivery.event
        if event.changed_fields and set(event.changed_fields) <= _NOT_READ_BY_RULES:
            return "nothing the rules read changed"
        subject = account_subject_from_event(event.account)
        return self.use_cases.accounts.on_account_changed(delivery.consumer, delivery.event_id, subject)

    @event_handler("opportunity", OpportunityCreated)
    def track_opportunity_created(self, delivery: Delivery) -> str:
        """Open opportunities per account, for the realignment counts."""
        opportunity = delivery.event.opportunity
        return self.use_cases.accounts.on_opportunity_opened(delivery.consumer, delivery.event_id, opportunity.opportunity_id, opportunity.account_id)

    @event_handler("opportunity", OpportunityWon)
    def track_opportunity_won(self, delivery: Delivery) -> str:
        return self.use_cases.accounts.on_opportunity_closed(delivery.consumer, delivery.event_id, delivery.event.opportunity.opportunity_id)

    @event_handler("opportunity", OpportunityLost)
    def track_opportunity_lost(self, delivery: Delivery) -> str:
        return self.use_cases.accounts.on_opportunity_closed(delivery.consumer, delivery.event_id, delivery.event.opportunity.opportunity_id)

    @event_handler("opportunity", OpportunityReopened)
    def track_opportunity_reopened(self, delivery: Delivery) -> str:
        opportunity = delivery.event.opportunity
        return self.use_cases.accounts.on_opportunity_opened(delivery.consumer, delivery.event_id, opportunity.opportunity_id, opportunity.account_id)
