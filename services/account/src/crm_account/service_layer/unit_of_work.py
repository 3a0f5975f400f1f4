"""The account service's unit of work: the platform's transaction plus the account repository."""

from __future__ import annotations

from typing import Self

from crm_account.adapters.repository import AccountRepository
from crm_common.unit_of_work import SqlUnitOfWork


class AccountUnitOfWork(SqlUnitOfWork):
    accounts: AccountRepository

    def __enter__(self) -> Self:
        super().__enter__()
        self.accounts = AccountRepository(self.conn)
        return self
