"""The lead service's section of a person's data-subject export (crm.privacy.v1.PersonalDataService,
bound by crm_common.grpc.personal_data): each of their leads as GetLead shows it unmasked
(contact, source and attribution, score, status, conversion), with its contact attempts,
behaviours and the opportunities it became."""

from __future__ import annotations

from typing import Any

from google.protobuf import json_format

from crm_common.db import utcnow
from crm_common.privacy import PersonIdentifiers
from crm_lead.adapters.proto_mapping import attempt_to_proto, lead_to_proto
from crm_lead.service_layer.use_cases import LeadUseCases


def _plain(message: Any) -> dict[str, Any]:
    return json_format.MessageToDict(message, preserving_proto_field_name=True)


class LeadPersonalData:
    def __init__(self, use_cases: LeadUseCases) -> None:
        self.use_cases = use_cases

    def export_personal_data(self, person: PersonIdentifiers) -> dict[str, Any]:
        now = utcnow()
        return {
            "leads": [
                {
                    "lead": _plain(lead_to_proto(found.lead, now, show_pii=True)),
                    "contact_attempts": [_plain(attempt_to_proto(a)) for a in found.contact_attempts],
                    "behaviours": [{"behaviour": b, "occur_time": when.isoformat(), "detail": detail} for b, when, detail in found.behaviours],
                    "opportunities": [{k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in o.items()} for o in found.opportunities],
                }
                for found in self.use_cases.privacy.personal_data(person)
            ]
        }
