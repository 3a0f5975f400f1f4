"""The pipeline: opening an opportunity at its product pipeline's first stage, validated stage
moves (exit criteria, checklists), the pipelines themselves and an opportunity's stage history."""

from __future__ import annotations

from crm_common.auth import current_data_scope, current_principal
from crm_common.db import new_id, utcnow
from crm_common.errors import AlreadyExists, FailedPrecondition, FieldViolation, InvalidArgument, PermissionDenied
from crm_common.unit_of_work import request_id_violations, run_idempotent
from crm_opportunity.domain.drafting import NewOpportunity, clean_opportunity
from crm_opportunity.domain.model import Opportunity, ProductType, StageVisit, Status
from crm_opportunity.domain.pipeline import Pipeline, check_move
from crm_opportunity.service_layer import commands
from crm_opportunity.service_layer.common import (
    ActionKeeper,
    Clock,
    OpportunityEvents,
    Pipelines,
    UowFactory,
    completed_item_violations,
    opportunity_id_violations,
    store_move,
    stored_opportunity,
    tick,
)
from crm_opportunity.service_layer.unit_of_work import OpportunityUnitOfWork

# The role the suite's services act under (crm_common.auth.roles).
SERVICE_ROLE = "service"


class PipelineUseCases:
    def __init__(self, uow: UowFactory, events: OpportunityEvents, pipelines: Pipelines, actions: ActionKeeper, clock: Clock = utcnow) -> None:
        self.uow = uow
        self.events = events
        self.pipelines = pipelines
        self.actions = actions
        self.clock = clock

    def create_opportunity(self, cmd: commands.CreateOpportunity) -> Opportunity:
        """Opens an opportunity at its pipeline's first stage.

        A lead converts into at most one open opportunity: a second create for the same lead
        under another request_id is ALREADY_EXISTS naming the first (a partial unique index
        settles two racing creates; the loser runs again and finds the winner).
        """
        new, violations = clean_opportunity(cmd.draft)
        violations = request_id_violations(cmd.key.request_id) + violations
        if new is None or violations:
            raise InvalidArgument(violations)

        def first(uow: OpportunityUnitOfWork) -> tuple[Opportunity, str]:
            if new.source_lead_id:
                existing = uow.opportunities.open_from_lead(new.source_lead_id)
                if existing is not None:
                    raise AlreadyExists(
                        "opportunity",
                        existing.opportunity_id,
                        f"lead {new.source_lead_id} already has the open opportunity {existing.opportunity_id}",
                    )
            opportunity = self._open(new)
            if not current_data_scope().covers(opportunity.owner_id, opportunity.team_id, "", opportunity.territory_id):
                raise PermissionDenied("the opportunity would be outside your data scope: open it in your own book, team or territory")
            uow.opportunities.add(opportunity)
            uow.opportunities.enter_stage(opportunity, opportunity.created_by)
            self.actions.refresh(uow, [opportunity])
            uow.publish(self.events.created(opportunity, cmd.key.request_id))
            return opportunity, opportunity.opportunity_id

        return run_idempotent(self.uow, "CreateOpportunity", cmd.key, first, stored_opportunity)

    def _open(self, new: NewOpportunity) -> Opportunity:
        now, principal = self.clock(), current_principal()
        actor = principal.subject
        pipeline = self.pipelines[new.product]
        stage = pipeline.first
        return Opportunity(
            opportunity_id=new_id(),
            account_id=new.account_id,
            product=new.product,
            amount=new.amount,
            expected_close_at=new.expected_close_at,
            # Whoever opens an opportunity owns it unless they name its owner; a service never
            # does (left unassigned, e.g. when lead's recovery loop finishes a conversion).
            owner_id=new.owner_id or ("" if SERVICE_ROLE in principal.roles else actor),
            team_id=new.team_id,
            source_lead_id=new.source_lead_id,
            campaign_id=new.campaign_id,
            status=Status.OPEN,
            stage=stage.name,
            probability_percent=stage.probability_percent,
            created_at=now,
            created_by=actor,
            updated_at=now,
            updated_by=actor,
            pipeline_version=pipeline.version,
            stage_entered_at=now,
            territory_id=new.territory_id,
            forecast_category=str(stage.forecast),
        )

    def move_stage(self, cmd: commands.MoveStage) -> Opportunity:
        """Moves an open opportunity within its pipeline, recording the stay in the stage left."""
        violations = request_id_violations(cmd.key.request_id) + opportunity_id_violations(cmd.opportunity_id)
        if not cmd.stage.strip():
            violations.append(FieldViolation("stage", "required"))
        violations += completed_item_violations(cmd.completed_items)
        if violations:
            raise InvalidArgument(violations)

        def first(uow: OpportunityUnitOfWork) -> tuple[Opportunity, str]:
            opportunity = uow.opportunities.get(cmd.opportunity_id, current_data_scope(), for_update=True)
            if opportunity.status is not Status.OPEN:
                raise FailedPrecondition(f"opportunity {opportunity.opportunity_id} is {opportunity.status}: it no longer moves")
            pipeline = self.pipelines[opportunity.product]
            tick(opportunity, pipeline, cmd.completed_items)
            target = cmd.stage.strip()
            check_move(pipeline, opportunity.stage, target, opportunity.present_fields(), set(opportunity.checklist))
            previous = opportunity.stage
            stage = pipeline.stage(target)
            assert stage is not None
            opportunity.move_to(stage.name, stage.probability_percent, str(stage.forecast), current_principal().subject, self.clock())
            store_move(uow, opportunity, self.actions)
            uow.publish(self.events.stage_changed(opportunity, previous, cmd.key.request_id))
            return opportunity, opportunity.opportunity_id

        return run_idempotent(self.uow, "MoveStage", cmd.key, first, stored_opportunity)

    def get_pipeline(self, product: str) -> Pipeline:
        known = ProductType.__members__.get(product)
        if known is None:
            raise InvalidArgument(FieldViolation("product", "required" if not product else "unknown value"))
        return self.pipelines[known]

    def stage_history(self, opportunity_id: str) -> list[StageVisit]:
        violations = opportunity_id_violations(opportunity_id)
        if violations:
            raise InvalidArgument(violations)
        with self.uow() as uow:
            uow.opportunities.get(opportunity_id, current_data_scope())  # NOT_FOUND rather than an empty history
            return uow.opportunities.stage_history(opportunity_id)
