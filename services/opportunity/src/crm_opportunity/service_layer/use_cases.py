"""The opportunity service's use cases, one object per capability, wired once by the
composition root.

Entrypoints call `use_cases.<capability>.<use case>(...)`; each use case runs in one unit of
work in which state, events (outbox) and the idempotency record commit together.
"""

from __future__ import annotations

from dataclasses import dataclass

from crm_common.db import utcnow
from crm_opportunity.domain.next_best_action import Rule, default_rules
from crm_opportunity.domain.pipeline import PIPELINES
from crm_opportunity.service_layer.account_events import AccountEventUseCases
from crm_opportunity.service_layer.activities import ActivityUseCases
from crm_opportunity.service_layer.closing import ClosingUseCases
from crm_opportunity.service_layer.common import ActionKeeper, Clock, OpportunityEvents, Pipelines, UowFactory
from crm_opportunity.service_layer.forecast import ForecastUseCases
from crm_opportunity.service_layer.lookup import LookupUseCases
from crm_opportunity.service_layer.los import LosUseCases
from crm_opportunity.service_layer.next_best_actions import NextBestActionUseCases
from crm_opportunity.service_layer.pipeline import PipelineUseCases
from crm_opportunity.service_layer.updates import UpdateUseCases


@dataclass(frozen=True)
class OpportunityUseCases:
    pipeline: PipelineUseCases
    lookup: LookupUseCases
    updates: UpdateUseCases
    closing: ClosingUseCases
    los: LosUseCases
    activities: ActivityUseCases
    forecast: ForecastUseCases
    next_best_actions: NextBestActionUseCases
    account_events: AccountEventUseCases

    @classmethod
    def wire(
        cls,
        uow: UowFactory,
        events: OpportunityEvents,
        clock: Clock = utcnow,
        pipelines: Pipelines | None = None,
        rules: list[Rule] | None = None,
    ) -> OpportunityUseCases:
        """Every capability over the same unit of work; the built-in pipelines and next-best-action
        rules (data/nba_rules.json) unless the bank supplies its own."""
        pipelines = pipelines or PIPELINES
        actions = ActionKeeper(pipelines, rules if rules is not None else default_rules(), clock)
        return cls(
            pipeline=PipelineUseCases(uow, events, pipelines, actions, clock),
            lookup=LookupUseCases(uow),
            updates=UpdateUseCases(uow, events, actions, clock),
            closing=ClosingUseCases(uow, events, pipelines, actions, clock),
            los=LosUseCases(uow, events, pipelines, actions, clock),
            activities=ActivityUseCases(uow, events, actions, clock),
            forecast=ForecastUseCases(uow, pipelines),
            next_best_actions=NextBestActionUseCases(uow, actions),
            account_events=AccountEventUseCases(uow, clock, events, actions),
        )
