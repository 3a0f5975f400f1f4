"""Domain ↔ protobuf for the opportunity contracts (crm.opportunity.v1)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from crm.common.v1 import common_pb2
from crm.opportunity.v1 import opportunity_pb2
from crm_common.contact import mask_text
from crm_common.grpc.enums import enum_name, enum_number
from crm_common.grpc.mapping import audit_stamps, money, timestamp
from crm_opportunity.domain.activities import Activity
from crm_opportunity.domain.forecast import FORECAST_CURRENCY, Figures
from crm_opportunity.domain.model import Opportunity, StageVisit
from crm_opportunity.domain.next_best_action import Suggestion
from crm_opportunity.domain.pipeline import Pipeline
from crm_opportunity.service_layer.commands import LosDecision


def opportunity_to_proto(opportunity: Opportunity) -> opportunity_pb2.Opportunity:
    return opportunity_pb2.Opportunity(
        opportunity_id=opportunity.opportunity_id,
        account_id=opportunity.account_id,
        product=enum_number(common_pb2.ProductType, opportunity.product),
        amount=common_pb2.Money(currency_code=opportunity.amount.currency, amount_minor=opportunity.amount.amount_minor),
        expected_close_time=timestamp(opportunity.expected_close_at),
        owner_id=opportunity.owner_id,
        team_id=opportunity.team_id,
        source_lead_id=opportunity.source_lead_id,
        campaign_id=opportunity.campaign_id,
        status=enum_number(opportunity_pb2.OpportunityStatus, opportunity.status),
        stage=opportunity.stage,
        probability_percent=opportunity.probability_percent,
        audit=audit_stamps(opportunity),
        close_time=timestamp(opportunity.closed_at),
        lost_reason=opportunity.lost_reason,
        competitor=opportunity.competitor,
        pipeline_version=opportunity.pipeline_version,
        checklist=list(opportunity.checklist),
        stage_enter_time=timestamp(opportunity.stage_entered_at),
        application_id=opportunity.application_id,
        decision_note=opportunity.decision_note,
        territory_id=opportunity.territory_id,
        forecast_category=enum_number(opportunity_pb2.ForecastCategory, opportunity.forecast_category),
        next_step=opportunity.next_step,
        probability_overridden=opportunity.probability_overridden,
    )


def pipeline_to_proto(pipeline: Pipeline) -> opportunity_pb2.Pipeline:
    return opportunity_pb2.Pipeline(
        product=enum_number(common_pb2.ProductType, pipeline.product),
        version=pipeline.version,
        allow_skip=pipeline.allow_skip,
        stages=[
            opportunity_pb2.PipelineStage(
                name=s.name,
                probability_percent=s.probability_percent,
                forecast_category=enum_number(opportunity_pb2.ForecastCategory, s.forecast),
                norm_days=s.norm_days,
                required_fields=list(s.required_fields),
                checklist=list(s.checklist),
            )
            for s in pipeline.stages
        ],
        lost_reasons=[
            opportunity_pb2.LostReasonOption(code=r.code, label=r.label, requires_competitor=r.requires_competitor) for r in pipeline.lost_reasons
        ],
        win_from=list(pipeline.winning_stages),
    )


def visit_to_proto(visit: StageVisit, now: datetime) -> opportunity_pb2.StageVisit:
    return opportunity_pb2.StageVisit(
        stage=visit.stage,
        enter_time=timestamp(visit.entered_at),
        leave_time=timestamp(visit.left_at),
        moved_by=visit.moved_by,
        seconds_in_stage=int(((visit.left_at or now) - visit.entered_at).total_seconds()),
    )


def los_decision_from_proto(message: Any) -> LosDecision:
    """From RecordLosDecisionRequest or the LOS's LosDecisionReported: the same fields."""
    name = enum_name(opportunity_pb2.LosDecision, message.decision)
    amount = message.approved_amount
    return LosDecision(
        application_id=message.application_id,
        decision=name,
        approved_amount=(amount.amount_minor, amount.currency_code or "VND") if message.HasField("approved_amount") else None,
        decline_reason=message.decline_reason,
    )


def activity_to_proto(activity: Activity, now: datetime, show_pii: bool = True) -> opportunity_pb2.Activity:
    """The Activity message; subject, notes and outcome (free text that may name the customer)
    withheld as "(hidden)" unless `show_pii`."""
    shown = (lambda text: text) if show_pii else mask_text
    return opportunity_pb2.Activity(
        activity_id=activity.activity_id,
        kind=enum_number(opportunity_pb2.ActivityKind, activity.kind),
        account_id=activity.account_id,
        opportunity_id=activity.opportunity_id,
        owner_id=activity.owner_id,
        subject=shown(activity.subject),
        notes=shown(activity.notes),
        due_time=timestamp(activity.due_at),
        status=enum_number(opportunity_pb2.ActivityStatus, activity.status),
        outcome=shown(activity.outcome),
        complete_time=timestamp(activity.completed_at),
        overdue=activity.overdue(now),
        audit=audit_stamps(activity),
    )


def figures_to_proto(figures: Figures) -> opportunity_pb2.ForecastFigures:
    return opportunity_pb2.ForecastFigures(
        open_count=figures.open_count,
        open_pipeline=money(figures.open_pipeline, FORECAST_CURRENCY),
        weighted_pipeline=money(figures.weighted_pipeline, FORECAST_CURRENCY),
        commit=money(figures.commit, FORECAST_CURRENCY),
        best_case=money(figures.best_case, FORECAST_CURRENCY),
        won_count=figures.won_count,
        won=money(figures.won, FORECAST_CURRENCY),
    )


def suggestion_to_proto(suggestion: Suggestion) -> opportunity_pb2.NextBestAction:
    return opportunity_pb2.NextBestAction(
        opportunity_id=suggestion.opportunity_id,
        action=enum_number(opportunity_pb2.SuggestedAction, suggestion.action),
        priority=suggestion.priority,
        reason=suggestion.reason,
        rule=suggestion.rule,
    )
