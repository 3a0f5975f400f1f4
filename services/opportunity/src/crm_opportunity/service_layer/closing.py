"""Closing: an opportunity won at its final amount, lost for one of its pipeline's reasons, and
reopened at the stage it closed from."""

from __future__ import annotations

from crm_common.auth import current_data_scope, current_principal
from crm_common.db import utcnow
from crm_common.errors import FieldViolation, InvalidArgument, echo
from crm_common.unit_of_work import request_id_violations, run_idempotent
from crm_opportunity.domain.drafting import clean_money
from crm_opportunity.domain.model import Opportunity, Status
from crm_opportunity.domain.pipeline import check_win
from crm_opportunity.service_layer import commands
from crm_opportunity.service_layer.common import (
    MAX_NOTE,
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

MAX_COMPETITOR = 200


class ClosingUseCases:
    def __init__(self, uow: UowFactory, events: OpportunityEvents, pipelines: Pipelines, actions: ActionKeeper, clock: Clock = utcnow) -> None:
        self.uow = uow
        self.events = events
        self.pipelines = pipelines
        self.actions = actions
        self.clock = clock

    def win_opportunity(self, cmd: commands.WinOpportunity) -> Opportunity:
        """Won at the final amount, from one of its pipeline's winning stages with that stage's
        exit criteria met (domain.pipeline.check_win); OpportunityWon lets the account service
        open the holding."""
        violations = request_id_violations(cmd.key.request_id) + opportunity_id_violations(cmd.opportunity_id)
        final = clean_money(cmd.final_amount[0], cmd.final_amount[1], violations, "final_amount") if cmd.final_amount else None
        if final is not None and final.amount_minor <= 0:
            violations.append(FieldViolation("final_amount.amount_minor", "must be positive"))
        violations += completed_item_violations(cmd.completed_items)
        if violations:
            raise InvalidArgument(violations)

        def first(uow: OpportunityUnitOfWork) -> tuple[Opportunity, str]:
            opportunity = uow.opportunities.get(cmd.opportunity_id, current_data_scope(), for_update=True)
            if opportunity.status is Status.OPEN:
                # Winning leaves the stage forward: the pipeline's winning stages and exit criteria.
                pipeline = self.pipelines[opportunity.product]
                tick(opportunity, pipeline, cmd.completed_items)
                present = opportunity.present_fields() | ({"amount"} if final is not None else set())
                check_win(pipeline, opportunity.stage, present, set(opportunity.checklist))
            opportunity.win(final, current_principal().subject, self.clock())
            store_move(uow, opportunity, self.actions)
            uow.publish(self.events.won(opportunity, cmd.key.request_id))
            return opportunity, opportunity.opportunity_id

        return run_idempotent(self.uow, "WinOpportunity", cmd.key, first, stored_opportunity)

    def lose_opportunity(self, cmd: commands.LoseOpportunity) -> Opportunity:
        """Lost for one of the product pipeline's reasons (the bank's list, GetPipeline)."""
        violations = request_id_violations(cmd.key.request_id) + opportunity_id_violations(cmd.opportunity_id)
        code = cmd.reason_code.strip()
        if not code:
            violations.append(FieldViolation("reason_code", "required: one of the pipeline's lost reasons (GetPipeline)"))
        competitor = cmd.competitor.strip()
        if len(competitor) > MAX_COMPETITOR:
            violations.append(FieldViolation("competitor", f"at most {MAX_COMPETITOR} characters"))
        if violations:
            raise InvalidArgument(violations)

        def first(uow: OpportunityUnitOfWork) -> tuple[Opportunity, str]:
            opportunity = uow.opportunities.get(cmd.opportunity_id, current_data_scope(), for_update=True)
            pipeline = self.pipelines[opportunity.product]
            reason = pipeline.lost_reason(code)
            if reason is None:
                known = ", ".join(r.code for r in pipeline.lost_reasons)
                raise InvalidArgument(
                    FieldViolation("reason_code", f"{echo(code)} is not a lost reason of the {pipeline.product} pipeline ({known})")
                )
            if reason.requires_competitor and not competitor:
                raise InvalidArgument(FieldViolation("competitor", f"required when the reason is {code}"))
            opportunity.lose(code, competitor, current_principal().subject, self.clock())
            store_move(uow, opportunity, self.actions)
            uow.publish(self.events.lost(opportunity, cmd.key.request_id))
            return opportunity, opportunity.opportunity_id

        return run_idempotent(self.uow, "LoseOpportunity", cmd.key, first, stored_opportunity)

    def reopen_opportunity(self, cmd: commands.ReopenOpportunity) -> Opportunity:
        """Open again at the stage it closed from; OpportunityReopened (a won one: clawback)."""
        violations = request_id_violations(cmd.key.request_id) + opportunity_id_violations(cmd.opportunity_id)
        if not cmd.reason.strip():
            violations.append(FieldViolation("reason", "required: it is kept with the opportunity"))
        elif len(cmd.reason) > MAX_NOTE:
            violations.append(FieldViolation("reason", f"at most {MAX_NOTE} characters"))
        if violations:
            raise InvalidArgument(violations)

        def first(uow: OpportunityUnitOfWork) -> tuple[Opportunity, str]:
            opportunity = uow.opportunities.get(cmd.opportunity_id, current_data_scope(), for_update=True)
            pipeline = self.pipelines[opportunity.product]
            visited = [v.stage for v in uow.opportunities.stage_history(opportunity.opportunity_id) if pipeline.stage(v.stage)]
            stage = pipeline.stage(visited[-1]) if visited else pipeline.first
            assert stage is not None
            previous = opportunity.reopen(
                stage.name, stage.probability_percent, str(stage.forecast), cmd.reason.strip(), current_principal().subject, self.clock()
            )
            store_move(uow, opportunity, self.actions)
            uow.publish(self.events.reopened(opportunity, previous, cmd.reason.strip(), cmd.key.request_id))
            return opportunity, opportunity.opportunity_id

        return run_idempotent(self.uow, "ReopenOpportunity", cmd.key, first, stored_opportunity)
