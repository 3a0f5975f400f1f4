"""The opportunity store's references to accounts (opportunities, activities), relinked when the
account service merges accounts and moved back when it undoes a merge."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, MetaData

from crm_common.relinks import Relinks, RelinkTarget
from crm_opportunity.adapters.orm import activities, opportunities

OPPORTUNITIES, ACTIVITIES = "opportunities", "activities"
TARGETS = (
    RelinkTarget(OPPORTUNITIES, opportunities, "opportunity_id", "account_id"),
    RelinkTarget(ACTIVITIES, activities, "activity_id", "account_id"),
)


class AccountLinks:
    def __init__(self, conn: Connection, metadata: MetaData) -> None:
        self.relinks = Relinks(conn, metadata)

    def relink(self, merge_id: str, merged_id: str, survivor_id: str, now: datetime) -> dict[str, int] | None:
        """Every opportunity and activity of `merged_id` now points at `survivor_id`; None when
        the merge was already undone here."""
        return self.relinks.relink(merge_id, merged_id, survivor_id, TARGETS, now)

    def undo(self, merge_id: str, merged_id: str, survivor_id: str, now: datetime) -> dict[str, int]:
        """Exactly what `relink` moved under `merge_id` points at `merged_id` again."""
        return self.relinks.undo(merge_id, merged_id, survivor_id, TARGETS, now)
