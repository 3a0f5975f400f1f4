"""The gRPC API: a thin servicer that parses requests, calls a use case and maps the result."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import grpc

from crm.common.v1 import common_pb2
from crm.opportunity.v1 import opportunity_pb2, opportunity_service_pb2, opportunity_service_pb2_grpc
from crm_common.auth import Access, Scope, current_principal
from crm_common.auth.roles import PII_READ
from crm_common.errors import FieldViolation, InvalidArgument
from crm_common.grpc.enums import enum_name, enum_number
from crm_common.grpc.mapping import page_response
from crm_common.grpc.requests import idempotency_key, optional_time
from crm_common.pagination import parse_page
from crm_opportunity.adapters.proto_mapping import (
    activity_to_proto,
    figures_to_proto,
    los_decision_from_proto,
    opportunity_to_proto,
    pipeline_to_proto,
    suggestion_to_proto,
    visit_to_proto,
)
from crm_opportunity.domain.activities import ActivityDraft
from crm_opportunity.domain.drafting import OpportunityDraft
from crm_opportunity.service import LOS_DECISION, OPPORTUNITY_READ, OPPORTUNITY_WRITE
from crm_opportunity.service_layer import commands
from crm_opportunity.service_layer.use_cases import OpportunityUseCases

# The one place that says who may call what, and how far into the opportunities
# (crm_common.auth.scopes): everything that touches an opportunity, an activity or their sums
# reaches only what the caller's data scope does; the LOS decides on any application.
PERMISSIONS: dict[str, Access] = {
    "CreateOpportunity": Access(OPPORTUNITY_WRITE, Scope.RECORD),
    "GetOpportunity": Access(OPPORTUNITY_READ, Scope.RECORD),
    "ListOpportunities": Access(OPPORTUNITY_READ, Scope.RECORD),
    "WinOpportunity": Access(OPPORTUNITY_WRITE, Scope.RECORD),
    "LoseOpportunity": Access(OPPORTUNITY_WRITE, Scope.RECORD),
    "UpdateOpportunity": Access(OPPORTUNITY_WRITE, Scope.RECORD),
    "MoveStage": Access(OPPORTUNITY_WRITE, Scope.RECORD),
    "GetPipeline": Access(OPPORTUNITY_READ, Scope.NONE),
    "ListStageHistory": Access(OPPORTUNITY_READ, Scope.RECORD),
    "ReopenOpportunity": Access(OPPORTUNITY_WRITE, Scope.RECORD),
    "SubmitApplication": Access(OPPORTUNITY_WRITE, Scope.RECORD),
    "RecordLosDecision": Access(LOS_DECISION, Scope.BANK),
    "CreateActivity": Access(OPPORTUNITY_WRITE, Scope.RECORD),
    "CompleteActivity": Access(OPPORTUNITY_WRITE, Scope.RECORD),
    "CancelActivity": Access(OPPORTUNITY_WRITE, Scope.RECORD),
    "ListActivities": Access(OPPORTUNITY_READ, Scope.RECORD),
    "GetWorklist": Access(OPPORTUNITY_READ, Scope.RECORD),
    "GetForecast": Access(OPPORTUNITY_READ, Scope.RECORD),
    "GetStageMetrics": Access(OPPORTUNITY_READ, Scope.RECORD),
    "GetNextBestActions": Access(OPPORTUNITY_READ, Scope.RECORD),
    "GetBookActions": Access(OPPORTUNITY_READ, Scope.RECORD),
}


def _may_see_pii() -> bool:
    """Activities' free text unmasked only for callers holding pii.read (docs/security.md)."""
    return current_principal().can(PII_READ)


def _expected_close(
    request: opportunity_service_pb2.CreateOpportunityRequest | opportunity_service_pb2.UpdateOpportunityRequest,
) -> datetime | None:
    try:
        return optional_time(request, "expected_close_time")
    except (ValueError, OverflowError):
        raise InvalidArgument(FieldViolation("expected_close_time", "not a valid time")) from None


def _lost_reason_code(request: opportunity_service_pb2.LoseOpportunityRequest) -> str:
    """reason_code, or the code the older enum field names (its value name without the prefix)."""
    if not request.reason:
        return request.reason_code
    code = enum_name(opportunity_pb2.LostReason, request.reason, field="reason")
    if request.reason_code and request.reason_code != code:
        raise InvalidArgument(FieldViolation("reason_code", f"names another reason than reason ({code}): send one of them"))
    return code


class OpportunityServicer(opportunity_service_pb2_grpc.OpportunityServiceServicer):
    def __init__(self, use_cases: OpportunityUseCases) -> None:
        self.use_cases = use_cases

    def CreateOpportunity(
        self, request: opportunity_service_pb2.CreateOpportunityRequest, context: grpc.ServicerContext
    ) -> opportunity_service_pb2.CreateOpportunityResponse:
        has_amount = request.HasField("amount")
        opportunity = self.use_cases.pipeline.create_opportunity(
            commands.CreateOpportunity(
                key=idempotency_key(request),
                draft=OpportunityDraft(
                    account_id=request.account_id,
                    product=enum_name(common_pb2.ProductType, request.product, field="product"),
                    amount_minor=request.amount.amount_minor if has_amount else None,
                    currency=request.amount.currency_code if has_amount else "",
                    expected_close_at=_expected_close(request),
                    owner_id=request.owner_id,
                    team_id=request.team_id,
                    source_lead_id=request.source_lead_id,
                    campaign_id=request.campaign_id,
                    territory_id=request.territory_id,
                ),
            )
        )
        return opportunity_service_pb2.CreateOpportunityResponse(opportunity=opportunity_to_proto(opportunity))

    def GetOpportunity(
        self, request: opportunity_service_pb2.GetOpportunityRequest, context: grpc.ServicerContext
    ) -> opportunity_service_pb2.GetOpportunityResponse:
        opportunity = self.use_cases.lookup.get_opportunity(request.opportunity_id)
        return opportunity_service_pb2.GetOpportunityResponse(opportunity=opportunity_to_proto(opportunity))

    def ListOpportunities(
        self, request: opportunity_service_pb2.ListOpportunitiesRequest, context: grpc.ServicerContext
    ) -> opportunity_service_pb2.ListOpportunitiesResponse:
        page = parse_page(request.page.page_size, request.page.page_token)
        found, after = self.use_cases.lookup.list_opportunities(
            commands.ListOpportunities(account_id=request.account_id, owner_id=request.owner_id, source_lead_id=request.source_lead_id), page
        )
        return opportunity_service_pb2.ListOpportunitiesResponse(
            opportunities=[opportunity_to_proto(o) for o in found],
            page=page_response(after),
        )

    def WinOpportunity(
        self, request: opportunity_service_pb2.WinOpportunityRequest, context: grpc.ServicerContext
    ) -> opportunity_service_pb2.WinOpportunityResponse:
        final = (request.final_amount.amount_minor, request.final_amount.currency_code or "VND") if request.HasField("final_amount") else None
        won = self.use_cases.closing.win_opportunity(
            commands.WinOpportunity(
                key=idempotency_key(request),
                opportunity_id=request.opportunity_id,
                final_amount=final,
                completed_items=tuple(request.completed_items),
            )
        )
        return opportunity_service_pb2.WinOpportunityResponse(opportunity=opportunity_to_proto(won))

    def LoseOpportunity(
        self, request: opportunity_service_pb2.LoseOpportunityRequest, context: grpc.ServicerContext
    ) -> opportunity_service_pb2.LoseOpportunityResponse:
        command = commands.LoseOpportunity(
            key=idempotency_key(request),
            opportunity_id=request.opportunity_id,
            reason_code=_lost_reason_code(request),
            competitor=request.competitor,
        )
        lost = self.use_cases.closing.lose_opportunity(command)
        return opportunity_service_pb2.LoseOpportunityResponse(opportunity=opportunity_to_proto(lost))

    def UpdateOpportunity(
        self, request: opportunity_service_pb2.UpdateOpportunityRequest, context: grpc.ServicerContext
    ) -> opportunity_service_pb2.UpdateOpportunityResponse:
        amount = (request.amount.amount_minor, request.amount.currency_code) if request.HasField("amount") else None
        command = commands.UpdateOpportunity(
            key=idempotency_key(request),
            opportunity_id=request.opportunity_id,
            update_mask=tuple(request.update_mask.paths),
            amount=amount,
            expected_close_at=_expected_close(request),
            owner_id=request.owner_id,
            team_id=request.team_id,
            territory_id=request.territory_id,
            probability_percent=request.probability_percent,
            next_step=request.next_step,
        )
        return opportunity_service_pb2.UpdateOpportunityResponse(opportunity=opportunity_to_proto(self.use_cases.updates.update_opportunity(command)))

    def MoveStage(
        self, request: opportunity_service_pb2.MoveStageRequest, context: grpc.ServicerContext
    ) -> opportunity_service_pb2.MoveStageResponse:
        command = commands.MoveStage(
            key=idempotency_key(request), opportunity_id=request.opportunity_id, stage=request.stage, completed_items=tuple(request.completed_items)
        )
        return opportunity_service_pb2.MoveStageResponse(opportunity=opportunity_to_proto(self.use_cases.pipeline.move_stage(command)))

    def GetPipeline(
        self, request: opportunity_service_pb2.GetPipelineRequest, context: grpc.ServicerContext
    ) -> opportunity_service_pb2.GetPipelineResponse:
        pipeline = self.use_cases.pipeline.get_pipeline(enum_name(common_pb2.ProductType, request.product, field="product"))
        return opportunity_service_pb2.GetPipelineResponse(pipeline=pipeline_to_proto(pipeline))

    def ListStageHistory(
        self, request: opportunity_service_pb2.ListStageHistoryRequest, context: grpc.ServicerContext
    ) -> opportunity_service_pb2.ListStageHistoryResponse:
        now = datetime.now(UTC)
        visits = self.use_cases.pipeline.stage_history(request.opportunity_id)
        return opportunity_service_pb2.ListStageHistoryResponse(visits=[visit_to_proto(v, now) for v in visits])

    def ReopenOpportunity(
        self, request: opportunity_service_pb2.ReopenOpportunityRequest, context: grpc.ServicerContext
    ) -> opportunity_service_pb2.ReopenOpportunityResponse:
        command = commands.ReopenOpportunity(key=idempotency_key(request), opportunity_id=request.opportunity_id, reason=request.reason)
        return opportunity_service_pb2.ReopenOpportunityResponse(opportunity=opportunity_to_proto(self.use_cases.closing.reopen_opportunity(command)))

    def SubmitApplication(
        self, request: opportunity_service_pb2.SubmitApplicationRequest, context: grpc.ServicerContext
    ) -> opportunity_service_pb2.SubmitApplicationResponse:
        command = commands.SubmitApplication(key=idempotency_key(request), opportunity_id=request.opportunity_id)
        return opportunity_service_pb2.SubmitApplicationResponse(opportunity=opportunity_to_proto(self.use_cases.los.submit_application(command)))

    def RecordLosDecision(
        self, request: opportunity_service_pb2.RecordLosDecisionRequest, context: grpc.ServicerContext
    ) -> opportunity_service_pb2.RecordLosDecisionResponse:
        command = commands.RecordLosDecision(key=idempotency_key(request), decision=los_decision_from_proto(request))
        return opportunity_service_pb2.RecordLosDecisionResponse(opportunity=opportunity_to_proto(self.use_cases.los.record_los_decision(command)))

    def CreateActivity(
        self, request: opportunity_service_pb2.CreateActivityRequest, context: grpc.ServicerContext
    ) -> opportunity_service_pb2.CreateActivityResponse:
        draft = ActivityDraft(
            kind=enum_name(opportunity_pb2.ActivityKind, request.kind),
            subject=request.subject,
            notes=request.notes,
            due_at=optional_time(request, "due_time"),
        )
        command = commands.CreateActivity(
            key=idempotency_key(request), draft=draft, opportunity_id=request.opportunity_id, account_id=request.account_id, owner_id=request.owner_id
        )
        activity = self.use_cases.activities.create_activity(command)
        return opportunity_service_pb2.CreateActivityResponse(activity=activity_to_proto(activity, datetime.now(UTC), _may_see_pii()))

    def CompleteActivity(
        self, request: opportunity_service_pb2.CompleteActivityRequest, context: grpc.ServicerContext
    ) -> opportunity_service_pb2.CompleteActivityResponse:
        command = commands.FinishActivity(key=idempotency_key(request), activity_id=request.activity_id, outcome=request.outcome)
        activity = self.use_cases.activities.finish_activity(command)
        return opportunity_service_pb2.CompleteActivityResponse(activity=activity_to_proto(activity, datetime.now(UTC), _may_see_pii()))

    def CancelActivity(
        self, request: opportunity_service_pb2.CancelActivityRequest, context: grpc.ServicerContext
    ) -> opportunity_service_pb2.CancelActivityResponse:
        activity = self.use_cases.activities.finish_activity(
            commands.FinishActivity(key=idempotency_key(request), activity_id=request.activity_id, cancel=True)
        )
        return opportunity_service_pb2.CancelActivityResponse(activity=activity_to_proto(activity, datetime.now(UTC), _may_see_pii()))

    def ListActivities(
        self, request: opportunity_service_pb2.ListActivitiesRequest, context: grpc.ServicerContext
    ) -> opportunity_service_pb2.ListActivitiesResponse:
        page = parse_page(request.page.page_size, request.page.page_token)
        found, after = self.use_cases.activities.list_activities(request.opportunity_id, request.account_id, page)
        now = datetime.now(UTC)
        return opportunity_service_pb2.ListActivitiesResponse(
            activities=[activity_to_proto(a, now, _may_see_pii()) for a in found], page=page_response(after)
        )

    def GetWorklist(
        self, request: opportunity_service_pb2.GetWorklistRequest, context: grpc.ServicerContext
    ) -> opportunity_service_pb2.GetWorklistResponse:
        found, overdue = self.use_cases.activities.worklist(request.owner_id, request.limit)
        now = datetime.now(UTC)
        return opportunity_service_pb2.GetWorklistResponse(
            activities=[activity_to_proto(a, now, _may_see_pii()) for a in found], overdue_count=overdue
        )

    def GetForecast(
        self, request: opportunity_service_pb2.GetForecastRequest, context: grpc.ServicerContext
    ) -> opportunity_service_pb2.GetForecastResponse:
        scope = {"owner_id": request.owner_id, "team_id": request.team_id, "territory_id": request.territory_id}
        forecast = self.use_cases.forecast.forecast(commands.GetForecast(**scope, from_month=request.from_month, to_month=request.to_month))

        def line(product: str, stage: str, figures: Any) -> opportunity_pb2.ForecastLine:
            return opportunity_pb2.ForecastLine(product=enum_number(common_pb2.ProductType, product), stage=stage, figures=figures_to_proto(figures))

        return opportunity_service_pb2.GetForecastResponse(
            total=figures_to_proto(forecast.total),
            by_product=[line(product, "", f) for product, f in forecast.by_product.items()],
            by_stage=[line(product, stage, f) for (product, stage), f in forecast.by_stage.items()],
        )

    def GetStageMetrics(
        self, request: opportunity_service_pb2.GetStageMetricsRequest, context: grpc.ServicerContext
    ) -> opportunity_service_pb2.GetStageMetricsResponse:
        scope = {"owner_id": request.owner_id, "team_id": request.team_id, "territory_id": request.territory_id}
        metrics = self.use_cases.forecast.stage_metrics(
            commands.GetStageMetrics(product=enum_name(common_pb2.ProductType, request.product, field="product"), **scope)
        )
        return opportunity_service_pb2.GetStageMetricsResponse(
            stages=[
                opportunity_pb2.StageMetrics(
                    stage=m.stage, entered=m.entered, advanced=m.advanced, conversion_bp=m.conversion_bp, average_days_in_stage=m.average_days
                )
                for m in metrics
            ]
        )

    def GetNextBestActions(
        self, request: opportunity_service_pb2.GetNextBestActionsRequest, context: grpc.ServicerContext
    ) -> opportunity_service_pb2.GetNextBestActionsResponse:
        found = self.use_cases.next_best_actions.next_best_actions(request.opportunity_id)
        return opportunity_service_pb2.GetNextBestActionsResponse(actions=[suggestion_to_proto(s) for s in found])

    def GetBookActions(
        self, request: opportunity_service_pb2.GetBookActionsRequest, context: grpc.ServicerContext
    ) -> opportunity_service_pb2.GetBookActionsResponse:
        found, open_count = self.use_cases.next_best_actions.book_actions(request.owner_id, request.limit)
        return opportunity_service_pb2.GetBookActionsResponse(actions=[suggestion_to_proto(s) for s in found], open_opportunities=open_count)
