"""The account service's events and requests: merged accounts relinked (and moved back when a
merge is undone); a person's opportunities and activities exported, and blanked when they are
erased (crm_common.privacy)."""

from __future__ import annotations

from crm_common.events.erasure import erasure_confirmed
from crm_common.privacy import PersonIdentifiers
from crm_opportunity.adapters.account_links import ACTIVITIES, OPPORTUNITIES
from crm_opportunity.domain.activities import Activity
from crm_opportunity.domain.model import Opportunity
from crm_opportunity.service_layer.common import Clock, UowFactory


class AccountEventUseCases:
    def __init__(self, uow: UowFactory, clock: Clock) -> None:
        self.uow = uow
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
