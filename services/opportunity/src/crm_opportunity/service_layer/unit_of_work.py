"""The opportunity service's unit of work: the platform's transaction plus its repositories."""

from __future__ import annotations

from typing import Self

from sqlalchemy import Engine, MetaData

from crm_common.events.outbox import RelayWakeup
from crm_common.pii import PiiCodec
from crm_common.unit_of_work import SqlUnitOfWork
from crm_opportunity.adapters.account_links import AccountLinks
from crm_opportunity.adapters.activity_repository import ActivityRepository
from crm_opportunity.adapters.repository import OpportunityRepository


class OpportunityUnitOfWork(SqlUnitOfWork):
    opportunities: OpportunityRepository
    activities: ActivityRepository
    account_links: AccountLinks

    def __init__(self, engine: Engine, metadata: MetaData, pii: PiiCodec, wakeup: RelayWakeup | None = None) -> None:
        super().__init__(engine, metadata, wakeup)
        self.pii = pii

    def __enter__(self) -> Self:
        super().__enter__()
        self.opportunities = OpportunityRepository(self.conn)
        self.activities = ActivityRepository(self.conn, self.pii)
        self.account_links = AccountLinks(self.conn, self.metadata)
        return self
