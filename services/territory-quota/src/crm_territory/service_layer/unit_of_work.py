"""The territory-quota service's unit of work: the platform's transaction plus its repositories."""

from __future__ import annotations

from typing import Self

from crm_common.unit_of_work import SqlUnitOfWork
from crm_territory.adapters.quota_repository import AttainmentRepository, QuotaRepository
from crm_territory.adapters.territory_repository import TerritoryRepository


class TerritoryUnitOfWork(SqlUnitOfWork):
    quotas: QuotaRepository
    attainment: AttainmentRepository

    def __enter__(self) -> Self:
        super().__enter__()
        # The service's repositories over self.conn, e.g. self.things = ThingRepository(self.conn).
        self.territories = TerritoryRepository(self.conn)
        self.quotas = QuotaRepository(self.conn)
        self.attainment = AttainmentRepository(self.conn)
        return self
