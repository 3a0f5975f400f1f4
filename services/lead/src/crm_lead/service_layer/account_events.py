"""The account service's merges: a lead's account reference follows a merge (AccountsMerged) and
comes back when the merge is undone (AccountsUnmerged)."""

from __future__ import annotations

from crm_lead.service_layer.common import Clock, UowFactory


def _counts(moved: dict[str, int]) -> str:
    return " and ".join(f"{count} {kind}" for kind, count in moved.items())


class AccountEventUseCases:
    def __init__(self, uow: UowFactory, clock: Clock) -> None:
        self.uow = uow
        self.clock = clock

    def relink_account(self, consumer: str, event_id: str, merged_id: str, survivor_id: str, merge_id: str = "") -> str:
        """AccountsMerged: the merged account's leads and conversions now point at the survivor,
        each move remembered under `merge_id` (the merged id for events without one). "duplicate" for a redelivered event."""
        with self.uow() as uow:
            if not uow.claim_event(consumer, event_id):
                return "duplicate"
            moved = uow.account_links.relink(merge_id or merged_id, merged_id, survivor_id, self.clock())
            uow.commit()
        return "already unmerged" if moved is None else f"{_counts(moved)} relinked"

    def unrelink_account(self, consumer: str, event_id: str, merged_id: str, survivor_id: str, merge_id: str = "") -> str:
        """AccountsUnmerged: the leads and conversions relinked by that merge point at the
        restored account again (records the survivor gained since stay). "duplicate" for a
        redelivered event."""
        with self.uow() as uow:
            if not uow.claim_event(consumer, event_id):
                return "duplicate"
            moved = uow.account_links.undo(merge_id or merged_id, merged_id, survivor_id, self.clock())
            uow.commit()
        return f"{_counts(moved)} moved back"
