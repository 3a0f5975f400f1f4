"""The requests the lead service handles, as plain data (no protobuf, no gRPC)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from crm_common.unit_of_work import Idempotent
from crm_lead.domain.capture import LeadDraft


@dataclass(frozen=True)
class CreateLead:
    key: Idempotent
    draft: LeadDraft


@dataclass(frozen=True)
class CaptureWebForm:
    key: Idempotent
    draft: LeadDraft
    message: str = ""


@dataclass(frozen=True)
class ImportLeads:
    key: Idempotent
    rows: list[LeadDraft] = field(default_factory=list)


@dataclass(frozen=True)
class RecordBehaviour:
    key: Idempotent
    lead_id: str
    behaviour: str
    occurred_at: datetime | None
    detail: str = ""


@dataclass(frozen=True)
class AssignLead:
    key: Idempotent
    lead_id: str
    owner_id: str = ""
    team_id: str = ""
    # Move the lead to this branch or territory too ("" keeps the lead's).
    branch_id: str = ""
    territory_id: str = ""


@dataclass(frozen=True)
class RecordContactAttempt:
    key: Idempotent
    lead_id: str
    channel: str
    outcome: str
    note: str
    contacted_at: datetime | None


@dataclass(frozen=True)
class QualifyLead:
    key: Idempotent
    lead_id: str
    note: str = ""


@dataclass(frozen=True)
class DisqualifyLead:
    key: Idempotent
    lead_id: str
    reason: str
    note: str = ""


@dataclass(frozen=True)
class ReturnToNurture:
    key: Idempotent
    lead_id: str
    note: str = ""


@dataclass(frozen=True)
class ConvertLead:
    key: Idempotent
    lead_id: str
    product: str = ""
    amount_minor: int | None = None
    currency: str = ""
    expected_close_at: datetime | None = None
    owner_id: str = ""


@dataclass(frozen=True)
class SetTeamMembers:
    key: Idempotent
    team_id: str
    member_ids: list[str] = field(default_factory=list)
