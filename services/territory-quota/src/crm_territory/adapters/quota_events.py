"""The quota half's domain events (crm.territory.v1.events), published through the unit of work:
plans submitted, approved and rejected, quota transferred on account moves, attainment changed."""

from __future__ import annotations

from crm.territory.v1 import events_pb2, territory_pb2
from crm_common.events.envelope import new_event
from crm_common.grpc.enums import enum_number
from crm_territory.adapters.events import PRODUCER
from crm_territory.adapters.quota_mapping import period_to_proto, plan_to_proto, scope_to_proto, transfer_to_proto, value_to_proto
from crm_territory.adapters.quota_repository import StoredPlan
from crm_territory.domain.quotas import Measure, Period, QuotaTransfer
from crm_territory.service_layer.attainment import AttainmentChange


class QuotaEventBuilder:
    def plan_submitted(self, stored: StoredPlan, correlation_id: str) -> events_pb2.QuotaPlanSubmitted:
        return new_event(events_pb2.QuotaPlanSubmitted, PRODUCER, correlation_id, plan=plan_to_proto(stored))

    def plan_approved(self, stored: StoredPlan, correlation_id: str) -> events_pb2.QuotaPlanApproved:
        return new_event(events_pb2.QuotaPlanApproved, PRODUCER, correlation_id, plan=plan_to_proto(stored))

    def plan_rejected(self, stored: StoredPlan, correlation_id: str) -> events_pb2.QuotaPlanRejected:
        return new_event(events_pb2.QuotaPlanRejected, PRODUCER, correlation_id, plan=plan_to_proto(stored))

    def quota_transferred(
        self, plan_id: str, plan_version: int, measure: Measure, period: Period, transfer: QuotaTransfer
    ) -> events_pb2.QuotaTransferred:
        return new_event(
            events_pb2.QuotaTransferred,
            PRODUCER,
            plan_id=plan_id,
            plan_version=plan_version,
            measure=enum_number(territory_pb2.QuotaMeasure, measure),
            period=period_to_proto(period),
            transfer=transfer_to_proto(transfer, measure),
        )

    def attainment_changed(self, change: AttainmentChange) -> events_pb2.QuotaAttainmentChanged:
        measure = change.measure
        event = new_event(
            events_pb2.QuotaAttainmentChanged,
            PRODUCER,
            change.source_event_id,
            scope=scope_to_proto(change.scope),
            measure=enum_number(territory_pb2.QuotaMeasure, measure),
            period=period_to_proto(change.period),
            delta=value_to_proto(change.delta, measure),
            actual=value_to_proto(change.actual, measure),
            source=enum_number(events_pb2.AttainmentSource, change.source),
            source_event_id=change.source_event_id,
            source_object_id=change.object_id,
            account_id=change.account_id,
        )
        if change.target is not None:
            event.target.CopyFrom(value_to_proto(change.target, measure))
            if change.target > 0:
                event.attainment_bp = change.actual * 10_000 // change.target
        return event


QUOTA_EVENTS = QuotaEventBuilder()
