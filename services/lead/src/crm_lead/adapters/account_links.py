"""The lead store's references to accounts (a lead's converted account, a conversion's account),
relinked when the account service merges accounts and moved back when it undoes a merge."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, MetaData

from crm_common.relinks import Relinks, RelinkTarget
from crm_lead.adapters.orm import conversions, leads

TARGETS = (
    RelinkTarget("leads", leads, "lead_id", "account_id"),
    RelinkTarget("conversions", conversions, "lead_id", "account_id"),
)


class AccountLinks:
    def __init__(self, conn: Connection, metadata: MetaData) -> None:
        self.relinks = Relinks(conn, metadata)

    def relink(self, merge_id: str, merged_id: str, survivor_id: str, now: datetime) -> dict[str, int] | None:
        """Every lead and conversion of `merged_id` now points at `survivor_id`; None when the
        merge was already undone here."""
        return self.relinks.relink(merge_id, merged_id, survivor_id, TARGETS, now)

    def undo(self, merge_id: str, merged_id: str, survivor_id: str, now: datetime) -> dict[str, int]:
        """Exactly what `relink` moved under `merge_id` points at `merged_id` again."""
        return self.relinks.undo(merge_id, merged_id, survivor_id, TARGETS, now)
