"""The opportunity service's use cases. Each runs in one unit of work: state, events (outbox) and
the idempotency record commit together or not at all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from crm_common.auth import current_principal
from crm_common.db import new_id, utcnow
from crm_common.errors import AlreadyExists, FailedPrecondition, FieldViolation, InvalidArgument, echo
from crm_common.events.erasure import erasure_confirmed
from crm_common.pagination import Page
from crm_common.unit_of_work import request_id_violations, run_idempotent
from crm_opportunity.adapters.repository import OpportunityFilter
from crm_opportunity.domain.activities import MAX_OUTCOME, Activity, ActivityKind, ActivityStatus, clean_activity
from crm_opportunity.domain.drafting import MAX_ID, NewOpportunity, clean_money, clean_opportunity
from crm_opportunity.domain.forecast import FORECAST_CURRENCY, Figures, RollupRow, figures, month_range
from crm_opportunity.domain.model import (
    CREDIT_PRODUCTS,
    LOS_DECLINED_REASON,
    SUBMITTED_STAGE,
    Money,
    Opportunity,
    ProductType,
    StageVisit,
    Status,
    is_valid_id,
)
from crm_opportunity.domain.next_best_action import OpportunityFacts, Rule, Suggestion, default_rules, suggest
from crm_opportunity.domain.pipeline import PIPELINES, Pipeline, check_move
from crm_opportunity.service_layer import commands
from crm_opportunity.service_layer.unit_of_work import OpportunityUnitOfWork

# The role the suite's services act under (crm_common.auth.roles).
SERVICE_ROLE = "service"
MAX_COMPETITOR = 200
MAX_NOTE = 500
MAX_NEXT_STEP = 300
# UpdateOpportunity's paths (the API's names) and the opportunity fields they set.
UPDATE_PATHS = {
    "amount": "amount",
    "expected_close_time": "expected_close_at",
    "owner_id": "owner_id",
    "team_id": "team_id",
    "territory_id": "territory_id",
    "probability_percent": "probability_percent",
    "next_step": "next_step",
}


def _scopes(owner_id: str, team_id: str, territory_id: str) -> list[tuple[str, str]]:
    """The (column, value) scopes given, of owner, team and territory."""
    given = (("owner_id", owner_id), ("team_id", team_id), ("territory_id", territory_id))
    return [(name, value.strip()) for name, value in given if value.strip()]


def _opportunity_id(value: str) -> list[FieldViolation]:
    if not value:
        return [FieldViolation("opportunity_id", "required")]
    if not is_valid_id(value):
        return [FieldViolation("opportunity_id", "not a valid opportunity id")]
    return []


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


@dataclass(frozen=True)
class Forecast:
    total: Figures
    by_product: dict[str, Figures]
    # (product, stage) → figures
    by_stage: dict[tuple[str, str], Figures]


@dataclass(frozen=True)
class StageMetric:
    stage: str
    entered: int
    # Stays that ended by moving on (to a later stage, or won/lost).
    advanced: int
    conversion_bp: int
    average_days: float


class OpportunityHandlers:
    def __init__(
        self,
        uow: Callable[[], OpportunityUnitOfWork],
        events: OpportunityEvents,
        clock: Callable[[], datetime] = utcnow,
        pipelines: dict[ProductType, Pipeline] | None = None,
        rules: list[Rule] | None = None,
    ) -> None:
        self.uow = uow
        self.events = events
        self.clock = clock
        self.pipelines = pipelines or PIPELINES
        # Next-best-action rules (data/nba_rules.json unless the bank supplies its own).
        self.rules = rules if rules is not None else default_rules()

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
            uow.opportunities.add(opportunity)
            uow.opportunities.enter_stage(opportunity, opportunity.created_by)
            self._refresh_actions(uow, [opportunity])
            uow.publish(self.events.created(opportunity, cmd.key.request_id))
            return opportunity, opportunity.opportunity_id

        def repeat(uow: OpportunityUnitOfWork, ref: str) -> Opportunity:
            return uow.opportunities.get(ref)

        return run_idempotent(self.uow, "CreateOpportunity", cmd.key, first, repeat)

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

    def win_opportunity(self, cmd: commands.WinOpportunity) -> Opportunity:
        """Won at the final amount; OpportunityWon lets the account service open the holding."""
        violations = request_id_violations(cmd.key.request_id) + _opportunity_id(cmd.opportunity_id)
        final = clean_money(cmd.final_amount[0], cmd.final_amount[1], violations, "final_amount") if cmd.final_amount else None
        if final is not None and final.amount_minor <= 0:
            violations.append(FieldViolation("final_amount.amount_minor", "must be positive"))
        if violations:
            raise InvalidArgument(violations)

        def first(uow: OpportunityUnitOfWork) -> tuple[Opportunity, str]:
            opportunity = uow.opportunities.get(cmd.opportunity_id, for_update=True)
            opportunity.win(final, current_principal().subject, self.clock())
            uow.opportunities.save(opportunity)
            uow.opportunities.enter_stage(opportunity, opportunity.updated_by)
            self._refresh_actions(uow, [opportunity])
            uow.publish(self.events.won(opportunity, cmd.key.request_id))
            return opportunity, opportunity.opportunity_id

        return run_idempotent(self.uow, "WinOpportunity", cmd.key, first, lambda uow, ref: uow.opportunities.get(ref))

    def lose_opportunity(self, cmd: commands.LoseOpportunity) -> Opportunity:
        """Lost for one of the product pipeline's reasons (the bank's list, GetPipeline)."""
        violations = request_id_violations(cmd.key.request_id) + _opportunity_id(cmd.opportunity_id)
        code = cmd.reason_code.strip()
        if not code:
            violations.append(FieldViolation("reason_code", "required: one of the pipeline's lost reasons (GetPipeline)"))
        competitor = cmd.competitor.strip()
        if len(competitor) > MAX_COMPETITOR:
            violations.append(FieldViolation("competitor", f"at most {MAX_COMPETITOR} characters"))
        if violations:
            raise InvalidArgument(violations)

        def first(uow: OpportunityUnitOfWork) -> tuple[Opportunity, str]:
            opportunity = uow.opportunities.get(cmd.opportunity_id, for_update=True)
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
            uow.opportunities.save(opportunity)
            uow.opportunities.enter_stage(opportunity, opportunity.updated_by)
            self._refresh_actions(uow, [opportunity])
            uow.publish(self.events.lost(opportunity, cmd.key.request_id))
            return opportunity, opportunity.opportunity_id

        return run_idempotent(self.uow, "LoseOpportunity", cmd.key, first, lambda uow, ref: uow.opportunities.get(ref))

    def update_opportunity(self, cmd: commands.UpdateOpportunity) -> Opportunity:
        """Changes an open opportunity's fields named by the mask. Its forecast contribution moves
        with it (repository.save) and its next best actions are worked out again."""
        violations = request_id_violations(cmd.key.request_id) + _opportunity_id(cmd.opportunity_id)
        paths = set(cmd.update_mask)
        if not paths:
            violations.append(FieldViolation("update_mask", "required: name the fields to change"))
        for path in sorted(paths - set(UPDATE_PATHS)):
            violations.append(FieldViolation("update_mask", f"{echo(path)} cannot be changed here (only {', '.join(UPDATE_PATHS)})"))
        changes: dict[str, Any] = {}
        if "amount" in paths:
            changes["amount"] = clean_money(*(cmd.amount or (0, "")), violations)
        if "expected_close_time" in paths:
            changes["expected_close_at"] = cmd.expected_close_at
        for field in ("owner_id", "team_id", "territory_id"):
            if field in paths:
                changes[field] = getattr(cmd, field).strip()
                if len(changes[field]) > MAX_ID:
                    violations.append(FieldViolation(field, f"at most {MAX_ID} characters"))
        if "probability_percent" in paths:
            changes["probability_percent"] = cmd.probability_percent
            if not 0 <= cmd.probability_percent <= 100:
                violations.append(FieldViolation("probability_percent", "0 to 100"))
        if "next_step" in paths:
            changes["next_step"] = cmd.next_step.strip()
            if len(changes["next_step"]) > MAX_NEXT_STEP:
                violations.append(FieldViolation("next_step", f"at most {MAX_NEXT_STEP} characters"))
        if violations:
            raise InvalidArgument(violations)
        api_name = {field: path for path, field in UPDATE_PATHS.items()}

        def first(uow: OpportunityUnitOfWork) -> tuple[Opportunity, str]:
            opportunity = uow.opportunities.get(cmd.opportunity_id, for_update=True)
            changed = opportunity.amend(changes, current_principal().subject, self.clock())
            if changed:
                uow.opportunities.save(opportunity)
                self._refresh_actions(uow, [opportunity])
                uow.publish(self.events.updated(opportunity, [api_name[f] for f in changed], cmd.key.request_id))
            return opportunity, opportunity.opportunity_id

        return run_idempotent(self.uow, "UpdateOpportunity", cmd.key, first, lambda uow, ref: uow.opportunities.get(ref))

    def move_stage(self, cmd: commands.MoveStage) -> Opportunity:
        """Moves an open opportunity within its pipeline, recording the stay in the stage left."""
        violations = request_id_violations(cmd.key.request_id) + _opportunity_id(cmd.opportunity_id)
        if not cmd.stage.strip():
            violations.append(FieldViolation("stage", "required"))
        for i, item in enumerate(cmd.completed_items):
            if not item.strip() or len(item) > 100:
                violations.append(FieldViolation(f"completed_items[{i}]", "1 to 100 characters"))
        if violations:
            raise InvalidArgument(violations)

        def first(uow: OpportunityUnitOfWork) -> tuple[Opportunity, str]:
            opportunity = uow.opportunities.get(cmd.opportunity_id, for_update=True)
            if opportunity.status is not Status.OPEN:
                raise FailedPrecondition(f"opportunity {opportunity.opportunity_id} is {opportunity.status}: it no longer moves")
            pipeline = self.pipelines[opportunity.product]
            unknown = set(cmd.completed_items) - {item for stage in pipeline.stages for item in stage.checklist}
            if unknown:
                raise InvalidArgument(FieldViolation("completed_items", f"not on the {pipeline.product} pipeline's checklists: {sorted(unknown)}"))
            opportunity.tick(tuple(i.strip() for i in cmd.completed_items))
            target = cmd.stage.strip()
            check_move(pipeline, opportunity.stage, target, opportunity.present_fields(), set(opportunity.checklist))
            previous = opportunity.stage
            stage = pipeline.stage(target)
            assert stage is not None
            opportunity.move_to(stage.name, stage.probability_percent, str(stage.forecast), current_principal().subject, self.clock())
            uow.opportunities.save(opportunity)
            uow.opportunities.enter_stage(opportunity, opportunity.updated_by)
            self._refresh_actions(uow, [opportunity])
            uow.publish(self.events.stage_changed(opportunity, previous, cmd.key.request_id))
            return opportunity, opportunity.opportunity_id

        return run_idempotent(self.uow, "MoveStage", cmd.key, first, lambda uow, ref: uow.opportunities.get(ref))

    def reopen_opportunity(self, cmd: commands.ReopenOpportunity) -> Opportunity:
        """Open again at the stage it closed from; OpportunityReopened (a won one: clawback)."""
        violations = request_id_violations(cmd.key.request_id) + _opportunity_id(cmd.opportunity_id)
        if not cmd.reason.strip():
            violations.append(FieldViolation("reason", "required: it is kept with the opportunity"))
        elif len(cmd.reason) > MAX_NOTE:
            violations.append(FieldViolation("reason", f"at most {MAX_NOTE} characters"))
        if violations:
            raise InvalidArgument(violations)

        def first(uow: OpportunityUnitOfWork) -> tuple[Opportunity, str]:
            opportunity = uow.opportunities.get(cmd.opportunity_id, for_update=True)
            pipeline = self.pipelines[opportunity.product]
            visited = [v.stage for v in uow.opportunities.stage_history(opportunity.opportunity_id) if pipeline.stage(v.stage)]
            stage = pipeline.stage(visited[-1]) if visited else pipeline.first
            assert stage is not None
            previous = opportunity.reopen(
                stage.name, stage.probability_percent, str(stage.forecast), cmd.reason.strip(), current_principal().subject, self.clock()
            )
            uow.opportunities.save(opportunity)
            uow.opportunities.enter_stage(opportunity, opportunity.updated_by)
            self._refresh_actions(uow, [opportunity])
            uow.publish(self.events.reopened(opportunity, previous, cmd.reason.strip(), cmd.key.request_id))
            return opportunity, opportunity.opportunity_id

        return run_idempotent(self.uow, "ReopenOpportunity", cmd.key, first, lambda uow, ref: uow.opportunities.get(ref))

    def submit_application(self, cmd: commands.SubmitApplication) -> Opportunity:
        """Moves a credit opportunity to submitted_to_los (its exit criteria apply) and hands it
        to the LOS with ApplicationSubmitted."""
        violations = request_id_violations(cmd.key.request_id) + _opportunity_id(cmd.opportunity_id)
        if violations:
            raise InvalidArgument(violations)

        def first(uow: OpportunityUnitOfWork) -> tuple[Opportunity, str]:
            opportunity = uow.opportunities.get(cmd.opportunity_id, for_update=True)
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
            uow.opportunities.save(opportunity)
            uow.opportunities.enter_stage(opportunity, opportunity.updated_by)
            self._refresh_actions(uow, [opportunity])
            uow.publish(self.events.stage_changed(opportunity, previous, cmd.key.request_id))
            uow.publish(self.events.application_submitted(opportunity, cmd.key.request_id))
            return opportunity, opportunity.opportunity_id

        return run_idempotent(self.uow, "SubmitApplication", cmd.key, first, lambda uow, ref: uow.opportunities.get(ref))

    def _decide(self, uow: OpportunityUnitOfWork, decision: commands.LosDecision, correlation_id: str) -> Opportunity:
        opportunity = uow.opportunities.by_application(decision.application_id, for_update=True)
        actor, now = current_principal().subject, self.clock()
        if decision.decision == "APPROVED":
            amount = decision.approved_amount
            opportunity.win(Money(amount[0], amount[1].strip().upper() or "VND") if amount else None, actor, now)
            uow.opportunities.save(opportunity)
            uow.opportunities.enter_stage(opportunity, actor)
            self._refresh_actions(uow, [opportunity])
            uow.publish(self.events.won(opportunity, correlation_id))
        else:
            opportunity.lose(LOS_DECLINED_REASON, "", actor, now, note=decision.decline_reason.strip())
            uow.opportunities.save(opportunity)
            uow.opportunities.enter_stage(opportunity, actor)
            self._refresh_actions(uow, [opportunity])
            uow.publish(self.events.lost(opportunity, correlation_id))
        return opportunity

    @staticmethod
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

    def record_los_decision(self, cmd: commands.RecordLosDecision) -> Opportunity:
        violations = request_id_violations(cmd.key.request_id) + self._decision_violations(cmd.decision)
        if violations:
            raise InvalidArgument(violations)

        def first(uow: OpportunityUnitOfWork) -> tuple[Opportunity, str]:
            opportunity = self._decide(uow, cmd.decision, cmd.key.request_id)
            return opportunity, opportunity.opportunity_id

        return run_idempotent(self.uow, "RecordLosDecision", cmd.key, first, lambda uow, ref: uow.opportunities.get(ref))

    def record_reported_los_decision(self, cmd: commands.ReportedLosDecision) -> str:
        """By event, once per event; a bad or impossible decision raises (retried, then parked
        in the dead-letter queue for a person)."""
        violations = self._decision_violations(cmd.decision)
        if violations:
            raise InvalidArgument(violations)
        with self.uow() as uow:
            if not uow.claim_event(cmd.consumer, cmd.event_id):
                return "duplicate"
            opportunity = self._decide(uow, cmd.decision, cmd.correlation_id)
            uow.commit()
        return str(opportunity.status)

    # --- activities ---------------------------------------------------------------------

    def create_activity(self, cmd: commands.CreateActivity) -> Activity:
        """On an opportunity (its account implied) or an account; a note is done when written."""
        kind, violations = clean_activity(cmd.draft)
        violations = request_id_violations(cmd.key.request_id) + violations
        if bool(cmd.opportunity_id) == bool(cmd.account_id):
            violations += [FieldViolation(f, "exactly one of opportunity_id and account_id") for f in ("opportunity_id", "account_id")]
        elif cmd.opportunity_id:
            violations += _opportunity_id(cmd.opportunity_id)
        elif not is_valid_id(cmd.account_id):
            violations.append(FieldViolation("account_id", "not a valid account id"))
        if len(cmd.owner_id) > 200:
            violations.append(FieldViolation("owner_id", "at most 200 characters"))
        if violations:
            raise InvalidArgument(violations)
        assert kind is not None

        def first(uow: OpportunityUnitOfWork) -> tuple[Activity, str]:
            account_id = uow.opportunities.get(cmd.opportunity_id).account_id if cmd.opportunity_id else cmd.account_id
            actor, now = current_principal().subject, self.clock()
            done = kind is ActivityKind.NOTE
            activity = Activity(
                activity_id=new_id(),
                kind=kind,
                account_id=account_id,
                opportunity_id=cmd.opportunity_id,
                owner_id=cmd.owner_id.strip() or actor,
                subject=cmd.draft.subject.strip(),
                notes=cmd.draft.notes,
                due_at=cmd.draft.due_at,
                status=ActivityStatus.COMPLETED if done else ActivityStatus.OPEN,
                outcome="",
                completed_at=now if done else None,
                created_at=now,
                created_by=actor,
                updated_at=now,
                updated_by=actor,
            )
            uow.activities.add(activity)
            if activity.kind is ActivityKind.MEETING and activity.opportunity_id:  # "no meeting yet" may no longer hold
                self._refresh_actions(uow, [uow.opportunities.get(activity.opportunity_id)])
            return activity, activity.activity_id

        return run_idempotent(self.uow, "CreateActivity", cmd.key, first, lambda uow, ref: uow.activities.get(ref))

    def finish_activity(self, cmd: commands.FinishActivity) -> Activity:
        """Completes an open activity with its outcome (ActivityCompleted), or cancels it."""
        violations = request_id_violations(cmd.key.request_id)
        if not is_valid_id(cmd.activity_id):
            violations.append(FieldViolation("activity_id", "required" if not cmd.activity_id else "not a valid activity id"))
        if not cmd.cancel and not cmd.outcome.strip():
            violations.append(FieldViolation("outcome", "required: what happened"))
        if len(cmd.outcome) > MAX_OUTCOME:
            violations.append(FieldViolation("outcome", f"at most {MAX_OUTCOME} characters"))
        if violations:
            raise InvalidArgument(violations)
        method = "CancelActivity" if cmd.cancel else "CompleteActivity"

        def first(uow: OpportunityUnitOfWork) -> tuple[Activity, str]:
            activity = uow.activities.get(cmd.activity_id, for_update=True)
            actor, now = current_principal().subject, self.clock()
            if cmd.cancel:
                activity.cancel(actor, now)
            else:
                activity.complete(cmd.outcome.strip(), actor, now)
                uow.publish(self.events.activity_completed(activity, cmd.key.request_id))
            uow.activities.save(activity)
            if activity.kind is ActivityKind.MEETING and activity.opportunity_id:
                self._refresh_actions(uow, [uow.opportunities.get(activity.opportunity_id)])
            return activity, activity.activity_id

        return run_idempotent(self.uow, method, cmd.key, first, lambda uow, ref: uow.activities.get(ref))

    def list_activities(self, opportunity_id: str, account_id: str, page: Page) -> tuple[list[Activity], dict[str, Any] | None]:
        if bool(opportunity_id) == bool(account_id):
            raise InvalidArgument([FieldViolation(f, "exactly one of opportunity_id and account_id") for f in ("opportunity_id", "account_id")])
        with self.uow() as uow:
            return uow.activities.of(opportunity_id, account_id, page)

    def worklist(self, owner_id: str, limit: int) -> tuple[list[Activity], int]:
        if not 0 <= limit <= 500:
            raise InvalidArgument(FieldViolation("limit", "between 1 and 500 (0: 100)"))
        with self.uow() as uow:
            return uow.activities.worklist(owner_id.strip() or current_principal().subject, self.clock(), limit or 100)

    # --- forecast --------------------------------------------------------------------------

    def forecast(self, cmd: commands.GetForecast) -> Forecast:
        """Sums from the rollup: the total, and lines by product and by product and stage."""
        scopes = [
            (name, value.strip())
            for name, value in (("owner_id", cmd.owner_id), ("team_id", cmd.team_id), ("territory_id", cmd.territory_id))
            if value.strip()
        ]
        months, violations = month_range(cmd.from_month, cmd.to_month)
        if len(scopes) != 1:
            violations += [FieldViolation(f, "exactly one of owner_id, team_id and territory_id") for f in ("owner_id", "team_id", "territory_id")]
        if violations:
            raise InvalidArgument(violations)
        assert months is not None
        with self.uow() as uow:
            rows = uow.opportunities.rollup(scopes[0], months, FORECAST_CURRENCY)
        by_product: dict[str, list[RollupRow]] = {}
        by_stage: dict[tuple[str, str], list[RollupRow]] = {}
        for row in rows:
            by_product.setdefault(row.product, []).append(row)
            by_stage.setdefault((row.product, row.stage), []).append(row)
        return Forecast(
            total=figures(rows),
            by_product={product: figures(part) for product, part in sorted(by_product.items())},
            by_stage={key: figures(part) for key, part in sorted(by_stage.items())},
        )

    def stage_metrics(self, cmd: commands.GetStageMetrics) -> list[StageMetric]:
        """Conversion to the next stages and average days in stage, in the pipeline's order."""
        product = ProductType.__members__.get(cmd.product)
        violations = [] if product else [FieldViolation("product", "required" if not cmd.product else "unknown value")]
        scopes = [
            (name, value.strip())
            for name, value in (("owner_id", cmd.owner_id), ("team_id", cmd.team_id), ("territory_id", cmd.territory_id))
            if value.strip()
        ]
        if len(scopes) > 1:
            violations += [FieldViolation(f, "at most one of owner_id, team_id and territory_id") for f in ("owner_id", "team_id", "territory_id")]
        if violations:
            raise InvalidArgument(violations)
        assert product is not None
        with self.uow() as uow:
            measured = {
                stage: (entered, left, days)
                for stage, entered, left, days in uow.opportunities.stage_metrics(str(product), scopes[0] if scopes else None)
            }
        metrics = []
        for stage in self.pipelines[product].stages:
            entered, left, days = measured.get(stage.name, (0, 0, 0.0))
            metrics.append(StageMetric(stage.name, entered, left, left * 10_000 // entered if entered else 0, round(days, 2)))
        return metrics

    # --- next best actions -------------------------------------------------------------

    def _facts(self, uow: OpportunityUnitOfWork, book: list[Opportunity]) -> dict[str, OpportunityFacts]:
        now = self.clock()
        met = uow.activities.met_with([o.opportunity_id for o in book]) if book else set()
        breached = uow.opportunities.breached_leads([o.source_lead_id for o in book if o.source_lead_id])
        return {o.opportunity_id: OpportunityFacts(o.opportunity_id in met, o.source_lead_id in breached, now) for o in book}

    def next_best_actions(self, opportunity_id: str) -> list[Suggestion]:
        violations = _opportunity_id(opportunity_id)
        if violations:
            raise InvalidArgument(violations)
        with self.uow() as uow:
            opportunity = uow.opportunities.get(opportunity_id)
            facts = self._facts(uow, [opportunity])[opportunity_id]
        return suggest(opportunity, self.pipelines[opportunity.product], facts, self.rules)

    def book_actions(self, owner_id: str, limit: int) -> tuple[list[Suggestion], int]:
        """An RM's book, ranked: by priority, then bigger amounts, then sooner closes. Read from
        the suggestions kept per opportunity (recomputed with every change; the rules that
        depend on time, by the sweep every OPPORTUNITY_NBA_SWEEP_SECONDS)."""
        if not 0 <= limit <= 1000:
            raise InvalidArgument(FieldViolation("limit", "between 1 and 1000 (0: 200)"))
        owner = owner_id.strip() or current_principal().subject
        with self.uow() as uow:
            return uow.opportunities.book(owner, limit or 200), uow.opportunities.count_open_of_owner(owner)

    def _refresh_actions(self, uow: OpportunityUnitOfWork, changed: list[Opportunity]) -> None:
        """Recomputes and keeps the suggestions of these opportunities (none once closed)."""
        if not changed:
            return
        facts = self._facts(uow, changed)
        computed = [(o, suggest(o, self.pipelines[o.product], facts[o.opportunity_id], self.rules)) for o in changed]
        uow.opportunities.replace_actions(computed, self.clock())

    def refresh_all_actions(self, batch: int = 500) -> int:
        """The sweep: every open opportunity's suggestions recomputed, a batch per transaction
        (time moves idle and close-date rules without any change). Returns how many."""
        done, after = 0, ""
        while True:
            with self.uow() as uow:
                if done % (batch * 20) == 0:  # the table may have grown a lot since it was planned
                    uow.opportunities.refresh_statistics()
                found = uow.opportunities.open_batch(after, batch)
                if not found:
                    uow.commit()
                    return done
                self._refresh_actions(uow, found)
                uow.commit()
            done += len(found)
            after = found[-1].opportunity_id

    def get_pipeline(self, product: str) -> Pipeline:
        known = ProductType.__members__.get(product)
        if known is None:
            raise InvalidArgument(FieldViolation("product", "required" if not product else "unknown value"))
        return self.pipelines[known]

    def stage_history(self, opportunity_id: str) -> list[StageVisit]:
        violations = _opportunity_id(opportunity_id)
        if violations:
            raise InvalidArgument(violations)
        with self.uow() as uow:
            uow.opportunities.get(opportunity_id)  # NOT_FOUND rather than an empty history
            return uow.opportunities.stage_history(opportunity_id)

    def get_opportunity(self, opportunity_id: str) -> Opportunity:
        if not opportunity_id:
            raise InvalidArgument(FieldViolation("opportunity_id", "required"))
        if not is_valid_id(opportunity_id):
            raise InvalidArgument(FieldViolation("opportunity_id", "not a valid opportunity id"))
        with self.uow() as uow:
            return uow.opportunities.get(opportunity_id)

    def list_opportunities(self, query: commands.ListOpportunities, page: Page) -> tuple[list[Opportunity], dict[str, Any] | None]:
        if query.account_id and not is_valid_id(query.account_id):
            raise InvalidArgument(FieldViolation("account_id", "not a valid account id"))
        where = OpportunityFilter(account_id=query.account_id, owner_id=query.owner_id.strip(), source_lead_id=query.source_lead_id.strip())
        with self.uow() as uow:
            return uow.opportunities.list(where, page)

    def erase_person(self, consumer: str, event_id: str, erasure_id: str, account_id: str) -> str:
        """Anonymises what this service holds about a person the account service erased (what
        people wrote in activities: subjects, notes, outcomes; opportunities themselves hold
        amounts, stages and owners, the bank's data) and confirms. "duplicate" for a redelivery."""
        with self.uow() as uow:
            if not uow.claim_event(consumer, event_id):
                return "duplicate"
            blanked = uow.activities.anonymise_account(account_id)
            uow.publish(erasure_confirmed("opportunity", erasure_id, account_id, blanked))
            uow.commit()
        return f"{blanked} activity(ies) anonymised"

    def record_first_contact(self, consumer: str, event_id: str, lead_id: str, sla_breached: bool, contacted_at: datetime) -> str:
        """LeadContacted with its first-contact facts, kept for the opportunity the lead becomes."""
        with self.uow() as uow:
            if not uow.claim_event(consumer, event_id):
                return "duplicate"
            uow.opportunities.record_first_contact(lead_id, sla_breached, contacted_at)
            self._refresh_actions(uow, uow.opportunities.with_lead(lead_id))
            uow.commit()
        return "breached" if sla_breached else "in time"

    def relink_account(self, consumer: str, event_id: str, merged_id: str, survivor_id: str) -> str:
        """AccountsMerged: the merged account's opportunities now belong to the survivor.
        "duplicate" for a redelivered event."""
        with self.uow() as uow:
            if not uow.claim_event(consumer, event_id):
                return "duplicate"
            moved = uow.opportunities.relink_account(merged_id, survivor_id)
            activities = uow.activities.relink_account(merged_id, survivor_id)
            uow.commit()
        return f"{moved} opportunity(ies) and {activities} activity(ies) relinked"
