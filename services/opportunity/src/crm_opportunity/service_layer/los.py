"""The loan origination system (LOS) hand-off: a credit opportunity submitted as an
application, and the LOS's decision on it (by call or by event) winning or losing it."""

from __future__ import annotations

from crm_common.auth import current_data_scope, current_principal
from crm_common.db import new_id, utcnow
from crm_common.errors import FailedPrecondition, FieldViolation, InvalidArgument
from crm_common.unit_of_work import request_id_violations, run_idempotent
from crm_opportunity.domain.drafting import clean_money
from crm_opportunity.domain.model import CREDIT_PRODUCTS, LOS_DECLINED_REASON, SUBMITTED_STAGE, Money, Opportunity, Status
from crm_opportunity.domain.pipeline import check_move
from crm_opportunity.service_layer import commands
from crm_opportunity.service_layer.common import (
    MAX_NOTE,
    ActionKeeper,
    Clock,
    OpportunityEvents,
    Pipelines,
    UowFactory,
    opportunity_id_violations,
    store_move,
    stored_opportunity,
)
from crm_opportunity.service_layer.unit_of_work import OpportunityUnitOfWork


def _decision_violations(decision: commands.LosDecision) -> list[FieldViolation]:
    violations = [] if decision.application_id else [FieldViolation("application_id", "required")]
    if decision.decision not in ("APPROVED", "DECLINED"):
        violations.append(FieldViolation("decision", "APPROVED or DECLINED"))
    if decision.decision == "DECLINED" and not decision.decline_reason.strip():
        violations.append(FieldViolation("decline_reason", "required when DECLINED"))
    if len(decision.decline_reason) > MAX_NOTE:
        violations.append(FieldViolation("decline_reason", f"at most {MAX_NOTE} characters"))
    if decision.approved_amount is not None:
        approved = clean_money(decision.approved_amount[0], decision.approved_amount[1], violations, "approved_amount")
        if approved.amount_minor <= 0:
            violations.append(FieldViolation("approved_amount.amount_minor", "must be positive"))
    return violations


class LosUseCases:
    def __init__(self, uow: UowFactory, events: OpportunityEvents, pipelines: Pipelines, actions: ActionKeeper, clock: Clock = utcnow) -> None:
        self.uow = uow
        self.events = events
        self.pipelines = pipelines
        self.actions = actions
        self.clock = clock

    def submit_application(self, cmd: commands.SubmitApplication) -> Opportunity:
        """Moves a credit opportunity to submitted_to_los (its exit criteria apply) and hands it
        to the LOS with ApplicationSubmitted."""
        violations = request_id_violations(cmd.key.request_id) + opportunity_id_violations(cmd.opportunity_id)
        if violations:
            raise InvalidArgument(violations)

        def first(uow: OpportunityUnitOfWork) -> tuple[Opportunity, str]:
            opportunity = uow.opportunities.get(cmd.opportunity_id, current_data_scope(), for_update=True)
            if opportunity.product not in CREDIT_PRODUCTS:
                raise FailedPrecondition(f"{opportunity.product} is not a credit product: nothing goes to the LOS")
            if opportunity.application_id:
                raise FailedPrecondition(f"already submitted as application {opportunity.application_id}")
            if opportunity.status is not Status.OPEN:
                raise FailedPrecondition(f"opportunity {opportunity.opportunity_id} is {opportunity.status}")
            pipeline = self.pipelines[opportunity.product]
            stage = pipeline.stage(SUBMITTED_STAGE)
            if stage is None:
                raise FailedPrecondition(f"the {opportunity.product} pipeline has no {SUBMITTED_STAGE} stage")
            check_move(pipeline, opportunity.stage, stage.name, opportunity.present_fields(), set(opportunity.checklist))
            previous = opportunity.stage
            opportunity.move_to(stage.name, stage.probability_percent, str(stage.forecast), current_principal().subject, self.clock())
            opportunity.application_id = new_id()
            store_move(uow, opportunity, self.actions)
            uow.publish(self.events.stage_changed(opportunity, previous, cmd.key.request_id))
            uow.publish(self.events.application_submitted(opportunity, cmd.key.request_id))
            return opportunity, opportunity.opportunity_id

        return run_idempotent(self.uow, "SubmitApplication", cmd.key, first, stored_opportunity)

    def record_los_decision(self, cmd: commands.RecordLosDecision) -> Opportunity:
        violations = request_id_violations(cmd.key.request_id) + _decision_violations(cmd.decision)
        if violations:
            raise InvalidArgument(violations)

        def first(uow: OpportunityUnitOfWork) -> tuple[Opportunity, str]:
            opportunity = self._decide(uow, cmd.decision, cmd.key.request_id)
            return opportunity, opportunity.opportunity_id

        return run_idempotent(self.uow, "RecordLosDecision", cmd.key, first, stored_opportunity)

    def record_reported_los_decision(self, cmd: commands.ReportedLosDecision) -> str:
        """By event, once per event; a bad or impossible decision raises (retried, then parked
        in the dead-letter queue for a person)."""
        violations = _decision_violations(cmd.decision)
        if violations:
            raise InvalidArgument(violations)
        with self.uow() as uow:
            if not uow.claim_event(cmd.consumer, cmd.event_id):
                return "duplicate"
            opportunity = self._decide(uow, cmd.decision, cmd.correlation_id)
            uow.commit()
        return str(opportunity.status)

    def _decide(self, uow: OpportunityUnitOfWork, decision: commands.LosDecision, correlation_id: str) -> Opportunity:
        opportunity = uow.opportunities.by_application(decision.application_id, for_update=True)
        actor, now = current_principal().subject, self.clock()
        if decision.decision == "APPROVED":
            amount = decision.approved_amount
            opportunity.win(Money(amount[0], amount[1].strip().upper() or "VND") if amount else None, actor, now)
            store_move(uow, opportunity, self.actions)
            uow.publish(self.events.won(opportunity, correlation_id))
        else:
            opportunity.lose(LOS_DECLINED_REASON, "", actor, now, note=decision.decline_reason.strip())
            store_move(uow, opportunity, self.actions)
            uow.publish(self.events.lost(opportunity, correlation_id))
        return opportunity
