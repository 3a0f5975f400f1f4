"""The account service's events and requests: merged accounts relinked; a person's opportunities
and activities exported, and blanked when they are erased (crm_common.privacy)."""

from __future__ import annotations

from crm_common.events.erasure import erasure_confirmed
from crm_common.privacy import PersonIdentifiers
from crm_opportunity.domain.activities import Activity
from crm_opportunity.domain.model import Opportunity
from crm_opportunity.service_layer.common import UowFactory


class AccountEventUseCases:
    def __init__(self, uow: UowFactory) -> None:
        self.uow = uow

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
