"""The account service's unit of work: the platform's transaction plus the account repository."""

from __future__ import annotations

from typing import Self

from sqlalchemy import Engine, MetaData

from crm_account.adapters.consent_repository import ConsentRepository
from crm_account.adapters.duplicate_repository import DuplicateRepository
from crm_account.adapters.holding_repository import HoldingRepository
from crm_account.adapters.household_repository import HouseholdRepository
from crm_account.adapters.privacy_repository import PrivacyRepository
from crm_account.adapters.repository import AccountRepository
from crm_account.adapters.screening_repository import ScreeningRepository
from crm_common.events.outbox import RelayWakeup
from crm_common.pii import PiiCodec
from crm_common.unit_of_work import SqlUnitOfWork


class AccountUnitOfWork(SqlUnitOfWork):
    accounts: AccountRepository
    consents: ConsentRepository
    holdings: HoldingRepository
    duplicates: DuplicateRepository
    screening: ScreeningRepository
    households: HouseholdRepository
    privacy: PrivacyRepository

    def __init__(self, engine: Engine, metadata: MetaData, pii: PiiCodec, wakeup: RelayWakeup | None = None) -> None:
        super().__init__(engine, metadata, wakeup)
        self.pii = pii

    def __enter__(self) -> Self:
        super().__enter__()
        self.accounts = AccountRepository(self.conn, self.pii)
        self.consents = ConsentRepository(self.conn)
        self.holdings = HoldingRepository(self.conn)
        self.duplicates = DuplicateRepository(self.conn)
        self.screening = ScreeningRepository(self.conn)
        self.households = HouseholdRepository(self.conn, self.pii)
        self.privacy = PrivacyRepository(self.conn)
        return self
