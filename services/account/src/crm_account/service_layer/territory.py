"""The territory service's assignments recorded on the account: its territory and RM (the owner),
which the data scopes check."""

from __future__ import annotations

from crm_account.domain.model import ChangeKind
from crm_account.service_layer.common import AccountEvents, Clock, UowFactory, record_change
from crm_common.auth import DataScope, current_principal
from crm_common.errors import NotFound


class TerritoryUseCases:
    def __init__(self, uow: UowFactory, events: AccountEvents, clock: Clock) -> None:
        self.uow = uow
        self.events = events
        self.clock = clock

    def record_territory(self, consumer: str, event_id: str, account_id: str, territory_id: str, owner_id: str) -> str:
        """AccountTerritoryAssigned: the account takes the territory and owner (AccountUpdated
        names the two fields, which the territory service does not re-evaluate). An account this
        service does not know (e.g. erased since) is acknowledged, not retried."""
        with self.uow() as uow:
            if not uow.claim_event(consumer, event_id):
                return "duplicate"
            try:
                account = uow.accounts.get(account_id, DataScope.bank_wide(), for_update=True, follow_merges=False)
            except NotFound:
                uow.commit()
                return "unknown account"
            read_version = account.version
            changed = account.record_territory(territory_id, owner_id, current_principal().subject, self.clock())
            if changed:
                uow.accounts.save(account, read_version)
                record_change(uow, account, ChangeKind.UPDATED, changed, "territory assignment")
                uow.publish(self.events.updated(account, changed, event_id))
            uow.commit()
        return f"recorded {', '.join(changed)}" if changed else "unchanged"
