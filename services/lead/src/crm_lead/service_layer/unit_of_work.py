"""The lead service's unit of work: the platform's transaction plus the lead repository and the
leads' account links."""

from __future__ import annotations

from typing import Any, Self

from sqlalchemy import Engine, MetaData

from crm_common.events.outbox import RelayWakeup
from crm_common.pii import PiiCodec
from crm_common.unit_of_work import SqlUnitOfWork
from crm_lead.adapters.account_links import AccountLinks
from crm_lead.adapters.repository import LeadRepository


class LeadUnitOfWork(SqlUnitOfWork):
    leads: LeadRepository
    account_links: AccountLinks

    def __init__(self, engine: Engine, metadata: MetaData, pii: PiiCodec, wakeup: RelayWakeup | None = None, **options: Any) -> None:
        super().__init__(engine, metadata, wakeup, **options)
        self.pii = pii

    def __enter__(self) -> Self:
        super().__enter__()
        self.leads = LeadRepository(self.conn, self.pii, self.group_commit)
        self.account_links = AccountLinks(self.conn, self.metadata)
        return self
