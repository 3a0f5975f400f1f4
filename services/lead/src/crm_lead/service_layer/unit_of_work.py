"""The lead service's unit of work: the platform's transaction plus the lead repository."""

from __future__ import annotations

from typing import Self

from crm_common.unit_of_work import SqlUnitOfWork
from crm_lead.adapters.repository import LeadRepository


class LeadUnitOfWork(SqlUnitOfWork):
    leads: LeadRepository

    def __enter__(self) -> Self:
        super().__enter__()
        self.leads = LeadRepository(self.conn)
        return self
