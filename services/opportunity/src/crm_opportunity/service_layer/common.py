"""What the opportunity service's use cases share: the events they publish, id checks, and the
next best actions kept current in the unit of work of every change. Each capability module
takes only the dependencies it uses.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from crm_common.auth import current_data_scope
from crm_common.errors import FieldViolation, InvalidArgument
from crm_opportunity.domain.activities import Activity
from crm_opportunity.domain.model import Opportunity, ProductType, Status, is_valid_id
from crm_opportunity.domain.next_best_action import OpportunityFacts, Rule, Suggestion, suggest
from crm_opportunity.domain.pipeline import Pipeline
from crm_opportunity.service_layer.unit_of_work import OpportunityUnitOfWork

UowFactory = Callable[[], OpportunityUnitOfWork]
Clock = Callable[[], datetime]
Pipelines = dict[ProductType, Pipeline]
MAX_NOTE = 500


class OpportunityEvents(Protocol):
    """Builds the service's domain events (protobuf messages) from domain objects."""

    def created(self, opportunity: Opportunity, correlation_id: str) -> Any: ...
    def won(self, opportunity: Opportunity, correlation_id: str) -> Any: ...
    def updated(self, opportunity: Opportunity, changed_fields: list[str], correlation_id: str) -> Any: ...
    def lost(self, opportunity: Opportunity, correlation_id: str) -> Any: ...
    def stage_changed(self, opportunity: Opportunity, previous_stage: str, correlation_id: str) -> Any: ...
    def reopened(self, opportunity: Opportunity, previous_status: Status, reason: str, correlation_id: str) -> Any: ...
    def application_submitted(self, opportunity: Opportunity, correlation_id: str) -> Any: ...
    def activity_completed(self, activity: Activity, correlation_id: str) -> Any: ...


def opportunity_id_violations(value: str) -> list[FieldViolation]:
    if not value:
        return [FieldViolation("opportunity_id", "required")]
    if not is_valid_id(value):
        return [FieldViolation("opportunity_id", "not a valid opportunity id")]
    return []


def scopes(owner_id: str, team_id: str, territory_id: str) -> list[tuple[str, str]]:
    """The (column, value) scopes given, of owner, team and territory."""
    given = (("owner_id", owner_id), ("team_id", team_id), ("territory_id", territory_id))
    return [(name, value.strip()) for name, value in given if value.strip()]


class ActionKeeper:
    """Works out opportunities' next best actions with the pipelines and the bank's rules
    (data/nba_rules.json unless it supplies its own), and keeps them with the opportunity."""

    def __init__(self, pipelines: Pipelines, rules: list[Rule], clock: Clock) -> None:
        self.pipelines = pipelines
        self.rules = rules
        self.clock = clock

    def facts(self, uow: OpportunityUnitOfWork, book: list[Opportunity]) -> dict[str, OpportunityFacts]:
        now = self.clock()
        met = uow.activities.met_with([o.opportunity_id for o in book]) if book else set()
        breached = uow.opportunities.breached_leads([o.source_lead_id for o in book if o.source_lead_id])
        return {o.opportunity_id: OpportunityFacts(o.opportunity_id in met, o.source_lead_id in breached, now) for o in book}

    def suggest(self, opportunity: Opportunity, facts: OpportunityFacts) -> list[Suggestion]:
        return suggest(opportunity, self.pipelines[opportunity.product], facts, self.rules)

    def refresh(self, uow: OpportunityUnitOfWork, changed: list[Opportunity]) -> None:
        """Recomputes and keeps the suggestions of these opportunities (none once closed)."""
        if not changed:
            return
        facts = self.facts(uow, changed)
        computed = [(o, self.suggest(o, facts[o.opportunity_id])) for o in changed]
        uow.opportunities.replace_actions(computed, self.clock())


def completed_item_violations(items: tuple[str, ...]) -> list[FieldViolation]:
    return [FieldViolation(f"completed_items[{i}]", "1 to 100 characters") for i, item in enumerate(items) if not item.strip() or len(item) > 100]


def tick(opportunity: Opportunity, pipeline: Pipeline, items: tuple[str, ...]) -> None:
    """Records checklist items done (MoveStage, WinOpportunity); items not on the pipeline's checklists are refused."""
    unknown = {i.strip() for i in items} - {item for stage in pipeline.stages for item in stage.checklist}
    if unknown:
        raise InvalidArgument(FieldViolation("completed_items", f"not on the {pipeline.product} pipeline's checklists: {sorted(unknown)}"))
    opportunity.tick(tuple(i.strip() for i in items))


def store_move(uow: OpportunityUnitOfWork, opportunity: Opportunity, actions: ActionKeeper) -> None:
    """Saves an opportunity that changed stage or status: its stage history and actions follow."""
    uow.opportunities.save(opportunity)
    uow.opportunities.enter_stage(opportunity, opportunity.updated_by)
    actions.refresh(uow, [opportunity])


def stored_opportunity(uow: OpportunityUnitOfWork, ref: str) -> Opportunity:
    """What a repeated request answers: the opportunity its first call stored."""
    return uow.opportunities.get(ref, current_data_scope())
