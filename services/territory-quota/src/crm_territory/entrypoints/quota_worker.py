"""The quota half's event handlers, a mixin of the service's nameko worker (entrypoints/worker.py):
attainment from won and reopened opportunities and opened and closed holdings, the open pipeline
from every opportunity event, and the accounts' places (and quota moves) from the territory
half's AccountTerritoryAssigned. Each handler parses the event and calls one use case."""

from __future__ import annotations

from typing import Any

from crm.account.v1.events_pb2 import HoldingClosed, HoldingOpened
from crm.opportunity.v1.events_pb2 import (
    OpportunityCreated,
    OpportunityLost,
    OpportunityReopened,
    OpportunityStageChanged,
    OpportunityUpdated,
    OpportunityWon,
)
from crm.territory.v1.events_pb2 import AccountTerritoryAssigned
from crm_common.events.consumer import Delivery, event_handler
from crm_territory.adapters.events import PRODUCER
from crm_territory.adapters.quota_mapping import assignment_facts, closed_on, holding_facts, opportunity_facts


class QuotaEventHandlers:
    use_cases: Any  # the worker's ServiceHandlers

    @event_handler("opportunity", OpportunityWon)
    def on_opportunity_won(self, delivery: Delivery) -> str:
        """A won deal credits its owner, team and territories (once per opportunity until reopened)."""
        event: OpportunityWon = delivery.event
        return str(
            self.use_cases.attainment.opportunity_won(
                delivery.consumer, delivery.event_id, opportunity_facts(event), event.won_amount.amount_minor, closed_on(event)
            )
        )

    @event_handler("opportunity", OpportunityReopened)
    def on_opportunity_reopened(self, delivery: Delivery) -> str:
        """A reopened deal's credit is subtracted from the same scopes and month; it is pipeline again."""
        return str(self.use_cases.attainment.opportunity_reopened(delivery.consumer, delivery.event_id, opportunity_facts(delivery.event)))

    @event_handler("opportunity", OpportunityCreated)
    def on_opportunity_created(self, delivery: Delivery) -> str:
        return str(self.use_cases.attainment.opportunity_changed(delivery.consumer, delivery.event_id, opportunity_facts(delivery.event)))

    @event_handler("opportunity", OpportunityUpdated)
    def on_opportunity_updated(self, delivery: Delivery) -> str:
        return str(self.use_cases.attainment.opportunity_changed(delivery.consumer, delivery.event_id, opportunity_facts(delivery.event)))

    @event_handler("opportunity", OpportunityStageChanged)
    def on_opportunity_stage_changed(self, delivery: Delivery) -> str:
        return str(self.use_cases.attainment.opportunity_changed(delivery.consumer, delivery.event_id, opportunity_facts(delivery.event)))

    @event_handler("opportunity", OpportunityLost)
    def on_opportunity_lost(self, delivery: Delivery) -> str:
        """A lost deal leaves the open pipeline."""
        return str(self.use_cases.attainment.opportunity_changed(delivery.consumer, delivery.event_id, opportunity_facts(delivery.event)))

    @event_handler("account", HoldingOpened)
    def on_holding_opened(self, delivery: Delivery) -> str:
        """A core-banking holding credits the account's RM, team and territories (one a won
        opportunity opened was counted by the win)."""
        return str(self.use_cases.attainment.holding_opened(delivery.consumer, delivery.event_id, holding_facts(delivery.event)))

    @event_handler("account", HoldingClosed)
    def on_holding_closed(self, delivery: Delivery) -> str:
        event: HoldingClosed = delivery.event
        return str(self.use_cases.attainment.holding_closed(delivery.consumer, delivery.event_id, event.holding.holding_id))

    @event_handler(PRODUCER, AccountTerritoryAssigned)
    def on_account_territory_assigned(self, delivery: Delivery) -> str:
        """The account's new place; a move mid-period moves quota under PRO_RATE plans."""
        return str(self.use_cases.attainment.account_assigned(delivery.consumer, delivery.event_id, assignment_facts(delivery.event)))
