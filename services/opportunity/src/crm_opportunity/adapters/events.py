"""The opportunity service's domain events as protobuf messages (crm.opportunity.v1.events)."""

from __future__ import annotations

from crm.opportunity.v1 import events_pb2, opportunity_pb2
from crm_common.events.envelope import new_event
from crm_common.grpc.enums import enum_number
from crm_opportunity.adapters.proto_mapping import activity_to_proto, opportunity_to_proto
from crm_opportunity.domain.activities import Activity
from crm_opportunity.domain.model import Opportunity, Status

PRODUCER = "opportunity"


class ProtoOpportunityEvents:
    def created(self, opportunity: Opportunity, correlation_id: str) -> events_pb2.OpportunityCreated:
        return new_event(
            events_pb2.OpportunityCreated, PRODUCER, correlation_id, opportunity.created_at, opportunity=opportunity_to_proto(opportunity)
        )

    def won(self, opportunity: Opportunity, correlation_id: str) -> events_pb2.OpportunityWon:
        message = opportunity_to_proto(opportunity)
        return new_event(
            events_pb2.OpportunityWon,
            PRODUCER,
            correlation_id,
            opportunity.updated_at,
            opportunity=message,
            won_amount=message.amount,
            close_time=message.close_time,
        )

    def updated(self, opportunity: Opportunity, changed_fields: list[str], correlation_id: str) -> events_pb2.OpportunityUpdated:
        return new_event(
            events_pb2.OpportunityUpdated,
            PRODUCER,
            correlation_id,
            opportunity.updated_at,
            opportunity=opportunity_to_proto(opportunity),
            changed_fields=changed_fields,
        )

    def lost(self, opportunity: Opportunity, correlation_id: str) -> events_pb2.OpportunityLost:
        return new_event(events_pb2.OpportunityLost, PRODUCER, correlation_id, opportunity.updated_at, opportunity=opportunity_to_proto(opportunity))

    def stage_changed(self, opportunity: Opportunity, previous_stage: str, correlation_id: str) -> events_pb2.OpportunityStageChanged:
        return new_event(
            events_pb2.OpportunityStageChanged,
            PRODUCER,
            correlation_id,
            opportunity.updated_at,
            opportunity=opportunity_to_proto(opportunity),
            previous_stage=previous_stage,
        )

    def reopened(self, opportunity: Opportunity, previous_status: Status, reason: str, correlation_id: str) -> events_pb2.OpportunityReopened:
        return new_event(
            events_pb2.OpportunityReopened,
            PRODUCER,
            correlation_id,
            opportunity.updated_at,
            opportunity=opportunity_to_proto(opportunity),
            previous_status=enum_number(opportunity_pb2.OpportunityStatus, previous_status),
            reason=reason,
        )

    def application_submitted(self, opportunity: Opportunity, correlation_id: str) -> events_pb2.ApplicationSubmitted:
        return new_event(
            events_pb2.ApplicationSubmitted,
            PRODUCER,
            correlation_id,
            opportunity.updated_at,
            opportunity=opportunity_to_proto(opportunity),
            application_id=opportunity.application_id,
        )

    def activity_completed(self, activity: Activity, correlation_id: str) -> events_pb2.ActivityCompleted:
        return new_event(
            events_pb2.ActivityCompleted,
            PRODUCER,
            correlation_id,
            activity.updated_at,
            # Subject, notes and outcome withheld: a consumer that needs them asks ListActivities with pii.read.
            activity=activity_to_proto(activity, activity.updated_at, show_pii=False),
        )
