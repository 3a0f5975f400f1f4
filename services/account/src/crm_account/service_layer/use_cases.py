"""The account service's use cases, one object per capability, wired once by the composition root.

Entrypoints call `use_cases.<capability>.<use case>(...)`; each use case runs in one unit of
work in which state, events (outbox), the timeline entry, the inbox mark and the idempotency
record commit together or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from crm_account.domain.holdings import TierThresholds
from crm_account.domain.screening import Watchlist
from crm_account.service_layer.common import AccountEvents, Clock, UowFactory
from crm_account.service_layer.consent import ConsentUseCases
from crm_account.service_layer.duplicates import DuplicatesUseCases
from crm_account.service_layer.holdings import HoldingsUseCases
from crm_account.service_layer.households import HouseholdsUseCases
from crm_account.service_layer.kyc import KycUseCases
from crm_account.service_layer.privacy import PersonalDataSections, PrivacyUseCases
from crm_account.service_layer.profile import ProfileUseCases
from crm_account.service_layer.territory import TerritoryUseCases
from crm_account.service_layer.timeline import TimelineUseCases
from crm_account.service_layer.unmerge import UnmergeUseCases
from crm_common.db import utcnow


@dataclass(frozen=True)
class AccountUseCases:
    profile: ProfileUseCases
    consent: ConsentUseCases
    kyc: KycUseCases
    holdings: HoldingsUseCases
    duplicates: DuplicatesUseCases
    households: HouseholdsUseCases
    privacy: PrivacyUseCases
    timeline: TimelineUseCases
    unmerge: UnmergeUseCases
    territory: TerritoryUseCases

    @classmethod
    def wire(
        cls,
        uow: UowFactory,
        events: AccountEvents,
        clock: Clock = utcnow,
        tiers: TierThresholds | None = None,
        watchlist: Watchlist | None = None,
        erasure_services: tuple[str, ...] = (),
        personal_data: PersonalDataSections | None = None,
        relink_services: tuple[str, ...] = (),
        unmerge_window: timedelta = timedelta(days=30),
    ) -> AccountUseCases:
        """Every capability over the same unit of work. Without `watchlist` accounts are not
        screened; `erasure_services` are the services that confirm an erasure and give their
        section of an export (through `personal_data`), `relink_services` those that relink on
        AccountsMerged (named in a merge's plan), and `unmerge_window` how long a merge can be
        undone."""
        tiers = tiers or TierThresholds()
        return cls(
            profile=ProfileUseCases(uow, events, clock, watchlist),
            consent=ConsentUseCases(uow, events, clock),
            kyc=KycUseCases(uow, events, clock, watchlist),
            holdings=HoldingsUseCases(uow, events, clock, tiers),
            duplicates=DuplicatesUseCases(uow, events, clock, tiers, relink_services),
            households=HouseholdsUseCases(uow, clock),
            privacy=PrivacyUseCases(uow, events, clock, erasure_services, personal_data),
            timeline=TimelineUseCases(uow),
            unmerge=UnmergeUseCases(uow, events, clock, tiers, unmerge_window),
            territory=TerritoryUseCases(uow, events, clock),
        )
