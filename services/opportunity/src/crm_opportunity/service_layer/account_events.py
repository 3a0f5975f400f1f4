"""The account service's events: merged accounts relinked, erased persons' activities blanked."""

from __future__ import annotations

from crm_common.events.erasure import erasure_confirmed
from crm_opportunity.service_layer.common import UowFactory


class AccountEventUseCases:
    def __init__(self, uow: UowFactory) -> None:
        self.uow = uow

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
