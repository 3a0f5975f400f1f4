"""The account's events (merged accounts relinked, erased persons' activities blanked) and the
territory service's (an account's open opportunities follow its territory)."""

from __future__ import annotations

from crm_common.auth import current_principal
from crm_common.db import utcnow
from crm_common.events.erasure import erasure_confirmed
from crm_opportunity.service_layer.common import ActionKeeper, Clock, OpportunityEvents, UowFactory


class AccountEventUseCases:
    def __init__(self, uow: UowFactory, events: OpportunityEvents | None = None, actions: ActionKeeper | None = None, clock: Clock = utcnow) -> None:
        self.uow = uow
        self.events = events
        self.actions = actions
        self.clock = clock

    def erase_person(self, consumer: str, event_id: str, erasure_id: str, account_id: str) -> str:
        """Anonymises what this service holds about a person the account service erased (what
        people wrote in activities: subjects, notes, outcomes; opportunities themselves hold
        amounts, stages and owners, the bank's data) and confirms. "duplicate" for a redelivery."""
        with self.uow() as uow:
            if not uow.claim_event(consumer, event_id):
                return "duplicate"
            blanked = uow.activities.anonymise_account(account_id)
            uow.publish(erasure_confirmed("opportunity", erasure_id, account_id, blanked))
            uow.commit()
        return f"{blanked} activity(ies) anonymised"

    def relink_account(self, consumer: str, event_id: str, merged_id: str, survivor_id: str) -> str:
        """AccountsMerged: the merged account's opportunities now belong to the survivor.
        "duplicate" for a redelivered event."""
        with self.uow() as uow:
            if not uow.claim_event(consumer, event_id):
                return "duplicate"
            moved = uow.opportunities.relink_account(merged_id, survivor_id)
            activities = uow.activities.relink_account(merged_id, survivor_id)
            uow.commit()
        return f"{moved} opportunity(ies) and {activities} activity(ies) relinked"

    def follow_territory(self, consumer: str, event_id: str, account_id: str, territory_id: str) -> str:
        """AccountTerritoryAssigned: the account's open opportunities take its territory (their
        forecast contribution moves with them; OpportunityUpdated for each). Closed ones keep
        the territory they were won or lost in."""
        with self.uow() as uow:
            if not uow.claim_event(consumer, event_id):
                return "duplicate"
            moved = 0
            for opportunity_id in uow.opportunities.open_ids_of_account(account_id):
                opportunity = uow.opportunities.get(opportunity_id, for_update=True)
                if opportunity.amend({"territory_id": territory_id}, current_principal().subject, self.clock()):
                    uow.opportunities.save(opportunity)
                    if self.actions is not None:
                        self.actions.refresh(uow, [opportunity])
                    if self.events is not None:
                        uow.publish(self.events.updated(opportunity, ["territory_id"], event_id))
                    moved += 1
            uow.commit()
        return f"{moved} open opportunity(ies) moved to {territory_id}"
