"""In-memory fakes of the opportunity service's unit of work and repositories, for use-case unit
tests: a rule of the service layer checked without a database or gRPC.

The fake repository keeps the forecast rollup as the real one does: `save` moves the
opportunity's contribution (domain.forecast.contribution) from its stored state to its new one.
(Named opportunity_fakes, not fakes: test directories are not packages, so module names must
be unique across the services' test sessions.)
"""

from __future__ import annotations

import copy
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from crm_common.auth import DataScope
from crm_common.errors import NotFound
from crm_common.testing_fakes import FakeClock, FakeStore, FakeUnitOfWork
from crm_opportunity.adapters.events import ProtoOpportunityEvents
from crm_opportunity.domain.activities import Activity, ActivityKind, ActivityStatus
from crm_opportunity.domain.forecast import Contribution, RollupRow, contribution
from crm_opportunity.domain.model import Opportunity, StageVisit, Status
from crm_opportunity.domain.next_best_action import Suggestion
from crm_opportunity.domain.pipeline import PIPELINES, Pipeline, ProductType
from crm_opportunity.service_layer.use_cases import OpportunityUseCases

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
# (scope kind, scope id, product, stage, forecast category, status, month, currency)
RollupKey = tuple[str, str, str, str, str, str, str, str]


@dataclass
class OpportunityTables:
    opportunities: dict[str, Opportunity] = field(default_factory=dict)
    # opportunity_id → its stays, in order
    history: dict[str, list[StageVisit]] = field(default_factory=lambda: defaultdict(list))
    rollup: dict[RollupKey, tuple[int, int, int]] = field(default_factory=dict)
    actions: dict[str, list[Suggestion]] = field(default_factory=dict)
    breached_leads: set[str] = field(default_factory=set)
    activities: dict[str, Activity] = field(default_factory=dict)


class FakeOpportunityRepository:
    """OpportunityRepository's contract (the parts use cases call) over OpportunityTables."""

    def __init__(self, tables: OpportunityTables) -> None:
        self.t = tables

    def add(self, opportunity: Opportunity) -> None:
        self.t.opportunities[opportunity.opportunity_id] = copy.deepcopy(opportunity)
        self._roll(contribution(opportunity))

    def get(self, opportunity_id: str, scope: DataScope, for_update: bool = False) -> Opportunity:
        found = self.t.opportunities.get(opportunity_id)
        if found is None or not scope.covers(found.owner_id, found.team_id, "", found.territory_id):
            raise NotFound("opportunity", opportunity_id)
        return copy.deepcopy(found)

    def save(self, opportunity: Opportunity) -> None:
        old, new = contribution(self.t.opportunities[opportunity.opportunity_id]), contribution(opportunity)
        self.t.opportunities[opportunity.opportunity_id] = copy.deepcopy(opportunity)
        if old != new:
            self._roll(old.negated(), new)

    def _roll(self, *changes: Contribution) -> None:
        for change in changes:
            k = change.key
            for kind, scope_id in k.scopes:
                key = (kind, scope_id, k.product, k.stage, k.forecast_category, k.status, k.period_month, k.currency)
                count, amount, weighted = self.t.rollup.get(key, (0, 0, 0))
                self.t.rollup[key] = (count + change.count, amount + change.amount, weighted + change.weighted)

    def rollup(self, scope: tuple[str, str], months: tuple[str, str], currency: str) -> list[RollupRow]:
        sums: dict[tuple[str, str, str, str], tuple[int, int, int]] = {}
        for (kind, scope_id, product, stage, category, status, month, cur), (n, a, w) in self.t.rollup.items():
            if (kind, scope_id) == scope and months[0] <= month <= months[1] and cur == currency:
                before = sums.get((product, stage, category, status), (0, 0, 0))
                sums[(product, stage, category, status)] = (before[0] + n, before[1] + a, before[2] + w)
        return [RollupRow(*what, *figures) for what, figures in sums.items()]

    def scoped_rollup(self, scope: tuple[str, str], months: tuple[str, str], currency: str, data_scope: DataScope) -> list[RollupRow]:
        sums: dict[tuple[str, str, str, str], tuple[int, int, int]] = {}
        for o in self.t.opportunities.values():
            c = contribution(o)
            k = c.key
            reached = data_scope.covers(o.owner_id, o.team_id, "", o.territory_id)
            if reached and getattr(o, scope[0]) == scope[1] and months[0] <= k.period_month <= months[1] and k.currency == currency:
                what = (k.product, k.stage, k.forecast_category, k.status)
                before = sums.get(what, (0, 0, 0))
                sums[what] = (before[0] + c.count, before[1] + c.amount, before[2] + c.weighted)
        return [RollupRow(*what, *figures) for what, figures in sums.items()]

    def enter_stage(self, opportunity: Opportunity, actor: str) -> None:
        stays = self.t.history[opportunity.opportunity_id]
        if stays and stays[-1].left_at is None:
            stays[-1] = replace(stays[-1], left_at=opportunity.stage_entered_at)
        assert opportunity.stage_entered_at is not None
        stays.append(StageVisit(opportunity.stage, opportunity.stage_entered_at, None, actor))

    def stage_history(self, opportunity_id: str) -> list[StageVisit]:
        return list(self.t.history.get(opportunity_id, []))

    def open_from_lead(self, lead_id: str) -> Opportunity | None:
        return next((copy.deepcopy(o) for o in self.t.opportunities.values() if o.source_lead_id == lead_id and o.status is Status.OPEN), None)

    def breached_leads(self, lead_ids: list[str]) -> set[str]:
        return self.t.breached_leads & set(lead_ids)

    def replace_actions(self, computed: list[tuple[Opportunity, list[Suggestion]]], now: datetime) -> None:
        for opportunity, suggestions in computed:
            self.t.actions[opportunity.opportunity_id] = suggestions


class FakeActivityRepository:
    def __init__(self, tables: OpportunityTables) -> None:
        self.t = tables

    def add(self, activity: Activity) -> None:
        self.t.activities[activity.activity_id] = copy.deepcopy(activity)

    def met_with(self, opportunity_ids: list[str]) -> set[str]:
        return {
            a.opportunity_id
            for a in self.t.activities.values()
            if a.opportunity_id in opportunity_ids and a.kind is ActivityKind.MEETING and a.status is not ActivityStatus.CANCELLED
        }


class FakeOpportunityUnitOfWork(FakeUnitOfWork[OpportunityTables]):
    def open_repositories(self) -> None:
        self.opportunities = FakeOpportunityRepository(self.state)
        self.activities = FakeActivityRepository(self.state)


@dataclass
class OpportunityService:
    """The opportunity use cases over fakes, with what a test inspects."""

    use_cases: OpportunityUseCases
    store: FakeStore[OpportunityTables]
    clock: FakeClock

    def stored(self, opportunity_id: str) -> Opportunity:
        return self.store.state.opportunities[opportunity_id]


def opportunity_service(pipelines: dict[ProductType, Pipeline] | None = None) -> OpportunityService:
    store = FakeStore(OpportunityTables())
    clock = FakeClock(NOW)
    use_cases = OpportunityUseCases.wire(
        uow=lambda: FakeOpportunityUnitOfWork(store), events=ProtoOpportunityEvents(), clock=clock, pipelines=pipelines
    )
    return OpportunityService(use_cases, store, clock)


def winnable_from_every_stage() -> dict[ProductType, Pipeline]:
    """The shipped pipelines, but a bank's `win_from` lets a deal be won from any stage (exit
    criteria still apply): for tests of what a win does, not of when one is allowed."""
    return {product: replace(pipeline, win_from=tuple(s.name for s in pipeline.stages)) for product, pipeline in PIPELINES.items()}


ACCOUNT = "3f2b8c1e-5d4a-4b7e-9c2d-1a2b3c4d5e6f"
