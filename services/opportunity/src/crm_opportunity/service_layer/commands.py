"""The requests the opportunity service handles, as plain data (no protobuf, no gRPC)."""

from __future__ import annotations

from dataclasses import dataclass

from crm_common.unit_of_work import Idempotent
from crm_opportunity.domain.drafting import OpportunityDraft


@dataclass(frozen=True)
class CreateOpportunity:
    key: Idempotent
    draft: OpportunityDraft


@dataclass(frozen=True)
class ListOpportunities:
    account_id: str = ""
    owner_id: str = ""
    source_lead_id: str = ""


@dataclass(frozen=True)
class WinOpportunity:
    key: Idempotent
    opportunity_id: str
    # (amount_minor, currency); None: the opportunity's own amount.
    final_amount: tuple[int, str] | None


@dataclass(frozen=True)
class LoseOpportunity:
    key: Idempotent
    opportunity_id: str
    # A LostReason name ('' unset, '?' unknown).
    reason: str
    competitor: str


@dataclass(frozen=True)
class MoveStage:
    key: Idempotent
    opportunity_id: str
    stage: str
    completed_items: tuple[str, ...] = ()
