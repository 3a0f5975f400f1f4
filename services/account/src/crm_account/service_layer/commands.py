"""The requests the account service handles, as plain data (no protobuf, no gRPC)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from crm_account.domain.consent import ConsentDraft
from crm_account.domain.holdings import HoldingRecordDraft, ProductType
from crm_account.domain.kyc import KycOutcomeDraft
from crm_account.domain.model import Acquisition
from crm_account.domain.profile import AccountDraft
from crm_common.unit_of_work import Idempotent


@dataclass(frozen=True)
class ResolvePersonAccount:
    key: Idempotent
    person: AccountDraft
    # The lead this account is resolved for, if any.
    source_lead_id: str = ""


@dataclass(frozen=True)
class CreateAccount:
    key: Idempotent
    account: AccountDraft


@dataclass(frozen=True)
class UpdateAccount:
    key: Idempotent
    account_id: str
    account: AccountDraft
    # AccountInput field paths to take from `account`.
    update_mask: tuple[str, ...]
    # 0: no check.
    expected_version: int = 0


@dataclass(frozen=True)
class OverrideValueTier:
    key: Idempotent
    account_id: str
    # A ValueTier name; '' when unset, '?' when unknown.
    value_tier: str
    reason: str


@dataclass(frozen=True)
class ClearValueTierOverride:
    key: Idempotent
    account_id: str
    reason: str


@dataclass(frozen=True)
class SearchAccounts:
    phone: str = ""
    email: str = ""
    national_id: str = ""
    name: str = ""


@dataclass(frozen=True)
class RecordAcquisition:
    """A converted lead's attribution, from the LeadConverted event `event_id`."""

    consumer: str
    event_id: str
    account_id: str
    acquisition: Acquisition
    correlation_id: str = ""


@dataclass(frozen=True)
class RecordConsent:
    key: Idempotent
    account_id: str
    consent: ConsentDraft


@dataclass(frozen=True)
class CheckConsent:
    account_id: str
    # Names ('' unset, '?' unknown), as in ConsentDraft.
    purpose: str
    channel: str


@dataclass(frozen=True)
class RecordKycOutcome:
    key: Idempotent
    account_id: str
    outcome: KycOutcomeDraft


@dataclass(frozen=True)
class ImportHoldings:
    key: Idempotent
    rows: tuple[HoldingRecordDraft, ...]


@dataclass(frozen=True)
class OpenWonHolding:
    """A won opportunity, from the OpportunityWon event `event_id`."""

    consumer: str
    event_id: str
    account_id: str
    opportunity_id: str
    # None when the opportunity's product is not one the bank holds as a product.
    product: ProductType | None
    amount: int
    won_on: date
    correlation_id: str = ""


@dataclass(frozen=True)
class ReverseWonHolding:
    """A reopened opportunity, from the OpportunityReopened event `event_id`: if it was won, the
    holding its win opened closes."""

    consumer: str
    event_id: str
    opportunity_id: str
    # Whether it was WON before reopening (a LOST one opened nothing).
    was_won: bool
    # None when the opportunity's product is not one the bank holds as a product.
    product: ProductType | None
    reopened_on: date
    # The reason given for reopening it, kept in HoldingClosed.detail.
    reason: str = ""
    correlation_id: str = ""


@dataclass(frozen=True)
class FindDuplicates:
    """Exactly one of an existing account and a customer not yet created."""

    account_id: str = ""
    account: AccountDraft | None = None


@dataclass(frozen=True)
class DismissDuplicate:
    key: Idempotent
    account_id: str
    other_id: str
    reason: str


@dataclass(frozen=True)
class MergeAccounts:
    key: Idempotent
    survivor_id: str
    merged_id: str
    reason: str


@dataclass(frozen=True)
class PlanMerge:
    """MergeAccounts with dry_run: the plan, nothing written."""

    survivor_id: str
    merged_id: str


@dataclass(frozen=True)
class UnmergeAccounts:
    key: Idempotent
    merged_id: str
    reason: str


@dataclass(frozen=True)
class ReviewScreeningHit:
    key: Idempotent
    hit_id: str
    # CONFIRMED_MATCH or FALSE_POSITIVE ('' unset, '?' unknown).
    review: str
    note: str


@dataclass(frozen=True)
class ChangeRelationship:
    key: Idempotent
    account_id: str
    related_id: str
    # A RelationshipKind name ('' unset, '?' unknown).
    kind: str
    note: str = ""


@dataclass(frozen=True)
class CreateHousehold:
    key: Idempotent
    name: str
    head_account_id: str
    member_account_ids: tuple[str, ...]


@dataclass(frozen=True)
class ChangeHouseholdMember:
    key: Idempotent
    household_id: str
    account_id: str


@dataclass(frozen=True)
class SetLegalHold:
    key: Idempotent
    account_id: str
    legal_hold: bool
    reason: str


@dataclass(frozen=True)
class RequestErasure:
    key: Idempotent
    account_id: str
    reason: str


@dataclass(frozen=True)
class ConfirmErasure:
    """A service's ErasureConfirmed event `event_id`."""

    consumer: str
    event_id: str
    erasure_id: str
    service: str


@dataclass(frozen=True)
class ReportedKycOutcome:
    """An outcome the onboarding system published (KycOutcomeReported event `event_id`)."""

    consumer: str
    event_id: str
    account_id: str
    outcome: KycOutcomeDraft
    correlation_id: str = ""
