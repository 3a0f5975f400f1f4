"""The account service's events and requests: merged accounts relinked (and moved back when a
merge is undone); a person's opportunities and activities exported, and blanked when they are
erased (crm_common.privacy). And the territory service's: an account's open opportunities follow
its territory."""

from __future__ import annotations

from crm_common.auth import DataScope, current_principal
from crm_common.events.erasure import erasure_confirmed
from crm_common.privacy import PersonIdentifiers
from crm_opportunity.adapters.account_links import ACTIVITIES, OPPORTUNITIES
from crm_opportunity.domain.activities import Activity
from crm_opportunity.domain.model import Opportunity
from crm_opportunity.service_layer.common import ActionKeeper, Clock, OpportunityEvents, UowFactory


class AccountEventUseCases:
    def __init__(self, uow: UowFactory, clock: Clock, events: OpportunityEvents | None = None, actions: ActionKeeper | None = None) -> None:
        self.uow = uow
        self.events = events
        self.actions = actions
        self.clock = clock

    def erase_person(self, consumer: str, event_id: str, erasure_id: str, person: PersonIdentifiers) -> str:
        """Anonymises what this service holds about a person the account service erased (what
        people wrote: activities' subjects, notes and outcomes, opportunities' next steps and
        decision notes; amounts, stages and owners are the bank's data) on their accounts, the
        merged-away ones included, and their leads' opportunities, and confirms. "duplicate"
        for a redelivery."""
        with self.uow() as uow:
            if not uow.claim_event(consumer, event_id):
                return "duplicate"
            opportunity_ids = [o.opportunity_id for o in uow.opportunities.of_person(person.account_ids, person.lead_ids)]
            blanked = uow.activities.anonymise_person(person.account_ids, opportunity_ids)
            noted = uow.opportunities.blank_notes(opportunity_ids)
            uow.publish(erasure_confirmed("opportunity", erasure_id, person.account_id, blanked + noted))
            uow.commit()
        return f"{blanked} activity(ies) anonymised" + (f", notes of {noted} opportunity(ies) blanked" if noted else "")

    def personal_data(self, person: PersonIdentifiers) -> tuple[list[Opportunity], list[Activity]]:
        """A person's opportunities (on their accounts or from their leads) and activities."""
        with self.uow() as uow:
            found = uow.opportunities.of_person(person.account_ids, person.lead_ids)
            return found, uow.activities.of_person(person.account_ids, [o.opportunity_id for o in found])

    def relink_account(self, consumer: str, event_id: str, merged_id: str, survivor_id: str, merge_id: str = "") -> str:
        """AccountsMerged: the merged account's opportunities and activities now belong to the
        survivor, each move remembered under `merge_id` (the merged id for events without one).
        "duplicate" for a redelivered event."""
        with self.uow() as uow:
            if not uow.claim_event(consumer, event_id):
                return "duplicate"
            moved = uow.account_links.relink(merge_id or merged_id, merged_id, survivor_id, self.clock())
            uow.commit()
        if moved is None:
            return "already unmerged"
        return f"{moved[OPPORTUNITIES]} opportunity(ies) and {moved[ACTIVITIES]} activity(ies) relinked"

    def unrelink_account(self, consumer: str, event_id: str, merged_id: str, survivor_id: str, merge_id: str = "") -> str:
        """AccountsUnmerged: exactly the opportunities and activities that merge relinked belong
        to the restored account again (those created on the survivor since stay). "duplicate"
        for a redelivered event."""
        with self.uow() as uow:
            if not uow.claim_event(consumer, event_id):
                return "duplicate"
            moved = uow.account_links.undo(merge_id or merged_id, merged_id, survivor_id, self.clock())
            uow.commit()
        return f"{moved[OPPORTUNITIES]} opportunity(ies) and {moved[ACTIVITIES]} activity(ies) moved back"

    def follow_territory(
        self, consumer: str, event_id: str, account_id: str, territory_id: str, owner_id: str = "", team_id: str = "", previous_owner_id: str = ""
    ) -> str:
        """AccountTerritoryAssigned: the account's open opportunities take its territory (their
        forecast contribution moves with them; OpportunityUpdated for each), and those the
        account's previous RM owned go to its new RM and team, so the data scopes follow the
        book; others' (a specialist's) keep their owner. Closed ones keep the territory and
        owner they were won or lost with."""
        with self.uow() as uow:
            if not uow.claim_event(consumer, event_id):
                return "duplicate"
            moved = 0
            for opportunity_id in uow.opportunities.open_ids_of_account(account_id):
                opportunity = uow.opportunities.get(opportunity_id, DataScope.bank_wide(), for_update=True)
                changes = {"territory_id": territory_id}
                if previous_owner_id and owner_id and opportunity.owner_id == previous_owner_id:
                    changes.update(owner_id=owner_id, team_id=team_id)
                changed = opportunity.amend(changes, current_principal().subject, self.clock())
                if changed:
                    uow.opportunities.save(opportunity)
                    if self.actions is not None:
                        self.actions.refresh(uow, [opportunity])
                    if self.events is not None:
                        uow.publish(self.events.updated(opportunity, changed, event_id))
                    moved += 1
            uow.commit()
        return f"{moved} open opportunity(ies) moved to {territory_id}"
