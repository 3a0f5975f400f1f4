"""The requests the opportunity service handles, as plain data (no protobuf, no gRPC)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from crm_common.unit_of_work import Idempotent
from crm_opportunity.domain.activities import ActivityDraft
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
    # Checklist items done, ticked before the win is checked.
    completed_items: tuple[str, ...] = ()


@dataclass(frozen=True)
class LoseOpportunity:
    key: Idempotent
    opportunity_id: str
    # A code from the product pipeline's lost reasons ('' unset).
    reason_code: str
    competitor: str


@dataclass(frozen=True)
class UpdateOpportunity:
    """Sets the fields named by update_mask (the API's paths) to the values given here."""

    key: Idempotent
    opportunity_id: str
    update_mask: tuple[str, ...]
    # (amount_minor, currency); None: unset.
    amount: tuple[int, str] | None = None
    expected_close_at: datetime | None = None
    owner_id: str = ""
    team_id: str = ""
    territory_id: str = ""
    probability_percent: int = 0
    next_step: str = ""


@dataclass(frozen=True)
class MoveStage:
    key: Idempotent
    opportunity_id: str
    stage: str
    completed_items: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReopenOpportunity:
    key: Idempotent
    opportunity_id: str
    reason: str


@dataclass(frozen=True)
class SubmitApplication:
    key: Idempotent
    opportunity_id: str


@dataclass(frozen=True)
class LosDecision:
    application_id: str
    # APPROVED or DECLINED ('' unset, '?' unknown).
    decision: str
    approved_amount: tuple[int, str] | None = None
    decline_reason: str = ""


@dataclass(frozen=True)
class RecordLosDecision:
    key: Idempotent
    decision: LosDecision


@dataclass(frozen=True)
class ReportedLosDecision:
    """The LOS's LosDecisionReported event `event_id`."""

    consumer: str
    event_id: str
    decision: LosDecision
    correlation_id: str = ""


@dataclass(frozen=True)
class CreateActivity:
    key: Idempotent
    draft: ActivityDraft
    # One of the two.
    opportunity_id: str = ""
    account_id: str = ""
    owner_id: str = ""


@dataclass(frozen=True)
class FinishActivity:
    key: Idempotent
    activity_id: str
    # '' to cancel.
    outcome: str = ""
    cancel: bool = False


@dataclass(frozen=True)
class GetForecast:
    owner_id: str = ""
    team_id: str = ""
    territory_id: str = ""
    from_month: str = ""
    to_month: str = ""


@dataclass(frozen=True)
class GetStageMetrics:
    # A ProductType name ('' unset, a number when unknown).
    product: str
    owner_id: str = ""
    team_id: str = ""
    territory_id: str = ""
