"""The territory-quota service's use cases: one object per capability module, built once by
bootstrap and called by the servicer and the worker (`use_cases.<capability>.<use_case>`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from crm_common.db import utcnow
from crm_territory.adapters.quota_events import QUOTA_EVENTS
from crm_territory.service_layer.account_assignment import AccountAssignmentUseCases
from crm_territory.service_layer.assignment_support import AssignmentEvents, ModelCache
from crm_territory.service_layer.attainment import AttainmentEvents, AttainmentUseCases
from crm_territory.service_layer.model_versions import ModelVersionUseCases
from crm_territory.service_layer.quotas import Clock, QuotaEvents, QuotaPlanUseCases
from crm_territory.service_layer.routing import LeadRoutingUseCases
from crm_territory.service_layer.teams import TeamUseCases
from crm_territory.service_layer.unit_of_work import TerritoryUnitOfWork


class QuotaHalfEvents(QuotaEvents, AttainmentEvents, Protocol):
    """The quota half's events: its plans' and its attainment's."""


@dataclass(frozen=True)
class TerritoryUseCases:
    uow: Callable[[], TerritoryUnitOfWork]
    models: ModelVersionUseCases
    teams: TeamUseCases
    routing: LeadRoutingUseCases
    accounts: AccountAssignmentUseCases
    quota_plans: QuotaPlanUseCases
    attainment: AttainmentUseCases

    @classmethod
    def wire(
        cls,
        uow: Callable[[], TerritoryUnitOfWork],
        assignment_events: AssignmentEvents | None = None,
        quota_events: QuotaHalfEvents = QUOTA_EVENTS,
        clock: Clock = utcnow,
    ) -> TerritoryUseCases:
        if assignment_events is None:
            from crm_territory.adapters.assignment_mapping import ProtoAssignmentEvents

            assignment_events = ProtoAssignmentEvents()
        # One cache of compiled models shared by every capability of the process.
        cache = ModelCache()
        return cls(
            uow=uow,
            models=ModelVersionUseCases(uow, assignment_events, cache),
            teams=TeamUseCases(uow, assignment_events, cache),
            routing=LeadRoutingUseCases(uow, assignment_events, cache),
            accounts=AccountAssignmentUseCases(uow, assignment_events, cache),
            quota_plans=QuotaPlanUseCases(uow, quota_events, clock),
            attainment=AttainmentUseCases(uow, quota_events, clock),
        )
