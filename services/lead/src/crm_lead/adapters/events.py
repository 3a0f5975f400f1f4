"""The lead service's domain events as protobuf messages (crm.lead.v1.events).

Events leave the service's control (every consumer, the broker, dead-letter queues), so they
carry contact data masked and no free-text notes: consumers work from ids.
"""

from __future__ import annotations

from datetime import datetime

from crm.common.v1 import common_pb2
from crm.lead.v1 import events_pb2, lead_pb2
from crm_common.db import utcnow
from crm_common.events.envelope import new_event
from crm_common.grpc.enums import enum_number
from crm_lead.adapters.proto_mapping import attempt_to_proto, conversion_to_proto, lead_to_event_proto, source_to_proto
from crm_lead.domain.model import ContactAttempt, Lead

PRODUCER = "lead"


class ProtoLeadEvents:
    def captured(self, lead: Lead, correlation_id: str) -> events_pb2.LeadCaptured:
        return new_event(events_pb2.LeadCaptured, PRODUCER, correlation_id, lead.created_at, lead=lead_to_event_proto(lead, lead.created_at))

    def scored(self, lead: Lead, previous: int, correlation_id: str) -> events_pb2.LeadScored:
        return new_event(
            events_pb2.LeadScored,
            PRODUCER,
            correlation_id,
            lead_id=lead.lead_id,
            score=lead.score,
            previous_score=previous,
            reasons=[lead_pb2.ScoreReason(rule=r.rule, points=r.points, detail=r.detail) for r in lead.score_reasons],
        )

    def qualified(self, lead: Lead, correlation_id: str) -> events_pb2.LeadQualified:
        return new_event(
            events_pb2.LeadQualified,
            PRODUCER,
            correlation_id,
            lead_id=lead.lead_id,
            status=enum_number(lead_pb2.LeadStatus, str(lead.status)),
            source=source_to_proto(lead.source),
        )

    def disqualified(self, lead: Lead, correlation_id: str) -> events_pb2.LeadDisqualified:
        return new_event(
            events_pb2.LeadDisqualified,
            PRODUCER,
            correlation_id,
            lead_id=lead.lead_id,
            reason=enum_number(lead_pb2.DisqualificationReason, lead.disqualification_reason),
            source=source_to_proto(lead.source),
        )

    def returned_to_nurture(self, lead: Lead, previous_status: str, previous_owner: str, correlation_id: str) -> events_pb2.LeadReturnedToNurture:
        return new_event(
            events_pb2.LeadReturnedToNurture,
            PRODUCER,
            correlation_id,
            lead_id=lead.lead_id,
            previous_status=enum_number(lead_pb2.LeadStatus, previous_status),
            previous_owner_id=previous_owner,
            source=source_to_proto(lead.source),
        )

    def assigned(self, lead: Lead, correlation_id: str) -> events_pb2.LeadAssigned:
        message = lead_to_event_proto(lead, utcnow())
        return new_event(events_pb2.LeadAssigned, PRODUCER, correlation_id, lead_id=lead.lead_id, assignment=message.assignment)

    def contacted(self, lead: Lead, attempt: ContactAttempt, first: bool, breached: bool, correlation_id: str) -> events_pb2.LeadContacted:
        minutes = lead.minutes_to_first_contact() if first else None
        return new_event(
            events_pb2.LeadContacted,
            PRODUCER,
            correlation_id,
            lead_id=lead.lead_id,
            attempt=attempt_to_proto(attempt, with_note=False),
            minutes_to_first_contact=minutes or 0,
            first_contact_sla_breached=breached,
            first_contact=first,
        )

    def converted(self, lead: Lead, correlation_id: str) -> events_pb2.LeadConverted:
        occurred: datetime = lead.converted_at or utcnow()
        return new_event(
            events_pb2.LeadConverted,
            PRODUCER,
            correlation_id,
            occurred,
            lead_id=lead.lead_id,
            conversion=conversion_to_proto(lead),
            source=source_to_proto(lead.source),
            product=enum_number(common_pb2.ProductType, lead.product_interest),
        )
