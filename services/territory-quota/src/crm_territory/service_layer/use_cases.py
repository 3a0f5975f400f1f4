"""The territory-quota service's use cases: one object per capability module, built once by
bootstrap and called by the servicer and the worker (`use_cases.<capability>.<use_case>`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from crm_territory.service_layer.unit_of_work import TerritoryUnitOfWork


@dataclass(frozen=True)
class TerritoryUseCases:
    # One field per capability module (service_layer/<capability>.py), e.g. `things: ThingUseCases`.
    uow: Callable[[], TerritoryUnitOfWork]

    @classmethod
    def wire(cls, uow: Callable[[], TerritoryUnitOfWork]) -> TerritoryUseCases:
        return cls(uow=uow)
