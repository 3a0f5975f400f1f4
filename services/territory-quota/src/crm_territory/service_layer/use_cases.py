"""The territory-quota service's use cases: one object per capability module, built once by
bootstrap and called by the servicer and the worker (`use_cases.<capability>.<use_case>`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from crm_common.db import utcnow
from crm_territory.adapters.quota_events import QUOTA_EVENTS
from crm_territory.service_layer.attainment import AttainmentEvents, AttainmentUseCases
from crm_territory.service_layer.quotas import Clock, QuotaEvents, QuotaPlanUseCases
from crm_territory.service_layer.unit_of_work import TerritoryUnitOfWork


class QuotaHalfEvents(QuotaEvents, AttainmentEvents, Protocol):
    """The quota half's events: its plans' and its attainment's."""


@dataclass(frozen=True)
class TerritoryUseCases:
    # One field per capability module (service_layer/<capability>.py), e.g. `things: ThingUseCases`.
    uow: Callable[[], TerritoryUnitOfWork]
    quota_plans: QuotaPlanUseCases
    attainment: AttainmentUseCases

    @classmethod
    def wire(cls, uow: Callable[[], TerritoryUnitOfWork], quota_events: QuotaHalfEvents = QUOTA_EVENTS, clock: Clock = utcnow) -> TerritoryUseCases:
        return cls(uow=uow, quota_plans=QuotaPlanUseCases(uow, quota_events, clock), attainment=AttainmentUseCases(uow, quota_events, clock))
