"""The opportunity service's unit of work: the platform's transaction plus its repositories."""

from __future__ import annotations

from typing import Self

from crm_common.unit_of_work import SqlUnitOfWork
from crm_opportunity.adapters.account_links import AccountLinks
from crm_opportunity.adapters.activity_repository import ActivityRepository
from crm_opportunity.adapters.repository import OpportunityRepository


class OpportunityUnitOfWork(SqlUnitOfWork):
    opportunities: OpportunityRepository
    activities: ActivityRepository
    account_links: AccountLinks

    def __enter__(self) -> Self:
        super().__enter__()
        self.opportunities = OpportunityRepository(self.conn)
        self.activities = ActivityRepository(self.conn)
        self.account_links = AccountLinks(self.conn, self.metadata)
        return self
