"""The account service's events: merged accounts relinked (and moved back when a merge is undone),
erased persons' activities blanked."""

from __future__ import annotations

from crm_common.events.erasure import erasure_confirmed
from crm_opportunity.adapters.account_links import ACTIVITIES, OPPORTUNITIES
from crm_opportunity.service_layer.common import Clock, UowFactory


class AccountEventUseCases:
    def __init__(self, uow: UowFactory, clock: Clock) -> None:
        self.uow = uow
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
