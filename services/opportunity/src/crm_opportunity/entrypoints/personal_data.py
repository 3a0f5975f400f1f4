"""The opportunity service's section of a person's data-subject export
(crm.privacy.v1.PersonalDataService, bound by crm_common.grpc.personal_data): their
opportunities as GetOpportunity shows them, and the activities on their accounts and deals."""

from __future__ import annotations

from typing import Any

from google.protobuf import json_format

from crm_common.db import utcnow
from crm_common.privacy import PersonIdentifiers
from crm_opportunity.adapters.proto_mapping import activity_to_proto, opportunity_to_proto
from crm_opportunity.service_layer.use_cases import OpportunityUseCases


def _plain(message: Any) -> dict[str, Any]:
    return json_format.MessageToDict(message, preserving_proto_field_name=True)


class OpportunityPersonalData:
    def __init__(self, use_cases: OpportunityUseCases) -> None:
        self.use_cases = use_cases

    def export_personal_data(self, person: PersonIdentifiers) -> dict[str, Any]:
        opportunities, activities = self.use_cases.account_events.personal_data(person)
        now = utcnow()
        return {
            "opportunities": [_plain(opportunity_to_proto(o)) for o in opportunities],
            "activities": [_plain(activity_to_proto(a, now)) for a in activities],
        }
