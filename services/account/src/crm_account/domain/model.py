"""The account: one golden record per customer (a person, or a business), found again by its
contact keys, with the profile a Vietnamese retail bank keeps.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime
from enum import IntEnum, StrEnum

from crm_account.domain.kyc import Kyc
from crm_common.errors import FailedPrecondition
from crm_common.ids import is_valid_id as is_valid_id  # the domain's callers import it from here
from crm_common.vietnam import Gender

__all__ = ["Gender"]


class AccountType(StrEnum):
    PERSON = "PERSON"
    BUSINESS = "BUSINESS"


class LifecycleStage(StrEnum):
    PROSPECT = "PROSPECT"
    ACTIVE = "ACTIVE"
    DORMANT = "DORMANT"
    CLOSED = "CLOSED"


class IncomeBand(StrEnum):
    """Declared monthly income in VND."""

    UNDER_10M = "UNDER_10M"
    FROM_10M_TO_20M = "10M_TO_20M"
    FROM_20M_TO_50M = "20M_TO_50M"
    FROM_50M_TO_100M = "50M_TO_100M"
    OVER_100M = "OVER_100M"


class ContactChannel(StrEnum):
    EMAIL = "EMAIL"
    SMS = "SMS"
    PUSH = "PUSH"
    ZALO = "ZALO"
    PHONE_CALL = "PHONE_CALL"


class ValueTier(StrEnum):
    MASS = "MASS"
    AFFLUENT = "AFFLUENT"
    PRIVATE = "PRIVATE"


class DayOfWeek(IntEnum):
    """ISO numbering, as in the contract."""

    MONDAY = 1
    TUESDAY = 2
    WEDNESDAY = 3
    THURSDAY = 4
    FRIDAY = 5
    SATURDAY = 6
    SUNDAY = 7


class MatchField(StrEnum):
    NATIONAL_ID = "NATIONAL_ID"
    PHONE = "PHONE"
    EMAIL = "EMAIL"


class ChangeKind(StrEnum):
    CREATED = "CREATED"
    UPDATED = "UPDATED"
    VALUE_TIER_OVERRIDDEN = "VALUE_TIER_OVERRIDDEN"
    VALUE_TIER_OVERRIDE_CLEARED = "VALUE_TIER_OVERRIDE_CLEARED"
    ACQUISITION_RECORDED = "ACQUISITION_RECORDED"
    CONSENT_CHANGED = "CONSENT_CHANGED"
    KYC_STATUS_CHANGED = "KYC_STATUS_CHANGED"
    MERGED = "MERGED"
    UNMERGED = "UNMERGED"
    RELATIONSHIP_ADDED = "RELATIONSHIP_ADDED"
    RELATIONSHIP_REMOVED = "RELATIONSHIP_REMOVED"
    HOUSEHOLD_JOINED = "HOUSEHOLD_JOINED"
    HOUSEHOLD_LEFT = "HOUSEHOLD_LEFT"
    LEGAL_HOLD_SET = "LEGAL_HOLD_SET"
    LEGAL_HOLD_LIFTED = "LEGAL_HOLD_LIFTED"
    DATA_EXPORTED = "DATA_EXPORTED"
    ERASED = "ERASED"


# A national id names one person; a phone or an email may be shared within a family, and an
# email is the easiest to mistype: so the strongest key decides when keys disagree.
MATCH_PRIORITY = (MatchField.NATIONAL_ID, MatchField.PHONE, MatchField.EMAIL)

# Once a customer has held a product they are never a prospect again; every other move is
# allowed (a dormant customer comes back, a closed relationship is reopened).
_STAGES_AFTER_PROSPECT = frozenset({LifecycleStage.ACTIVE, LifecycleStage.DORMANT, LifecycleStage.CLOSED})


@dataclass(frozen=True)
class ContactKeys:
    """Normalised contact points a person is matched on; '' where unknown."""

    national_id: str = ""
    phone_e164: str = ""
    email: str = ""

    def get(self, field: MatchField) -> str:
        return {MatchField.NATIONAL_ID: self.national_id, MatchField.PHONE: self.phone_e164, MatchField.EMAIL: self.email}[field]

    def in_priority(self) -> list[tuple[MatchField, str]]:
        """The known keys, strongest first."""
        return [(field, self.get(field)) for field in MATCH_PRIORITY if self.get(field)]

    def __bool__(self) -> bool:
        return bool(self.national_id or self.phone_e164 or self.email)


@dataclass(frozen=True)
class Acquisition:
    """How the customer was first acquired (first-touch attribution), from the converting lead."""

    lead_id: str
    channel: str
    campaign_id: str
    utm_source: str
    utm_medium: str
    utm_campaign: str
    acquired_at: datetime


@dataclass(frozen=True)
class Address:
    line: str = ""
    ward_code: str = ""
    district_code: str = ""
    province_code: str = ""


@dataclass(frozen=True)
class ContactWindow:
    """Days and a time span (minutes after midnight, Vietnam time) the customer prefers."""

    days: tuple[DayOfWeek, ...]
    start_minute: int
    end_minute: int


@dataclass(frozen=True)
class BusinessProfile:
    tax_code: str = ""
    industry: str = ""


@dataclass(frozen=True)
class Totals:
    """Sums over the open holdings, VND (crm_account.domain.holdings computes them)."""

    deposits: int = 0
    loans: int = 0
    aum: int = 0
    open_holdings: int = 0


@dataclass(frozen=True)
class Profile:
    """Everything about a customer that a caller may set (AccountInput, cleaned)."""

    account_type: AccountType = AccountType.PERSON
    full_name: str = ""
    gender: Gender | None = None
    date_of_birth: date | None = None
    national_id: str = ""
    national_id_legacy: bool = False
    # Normalised; the first is the primary.
    phones: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    address: Address = field(default_factory=Address)
    occupation: str = ""
    income_band: IncomeBand | None = None
    preferred_language: str = "vi"
    preferred_channel: ContactChannel | None = None
    best_contact_times: tuple[ContactWindow, ...] = ()
    lifecycle_stage: LifecycleStage = LifecycleStage.PROSPECT
    owner_id: str = ""
    branch_id: str = ""
    business: BusinessProfile | None = None
    # With owner and branch, who reaches the account (data scopes).
    territory_id: str = ""

    @property
    def keys(self) -> ContactKeys:
        return ContactKeys(self.national_id, self.phones[0] if self.phones else "", self.emails[0] if self.emails else "")

    def holds(self, field: MatchField, value: str) -> bool:
        if field is MatchField.NATIONAL_ID:
            return bool(value) and self.national_id == value
        return value in (self.phones if field is MatchField.PHONE else self.emails)


@dataclass
class Account:
    account_id: str
    profile: Profile
    # The lead the account was created for, if any.
    source_lead_id: str
    acquisition: Acquisition | None
    created_at: datetime
    created_by: str
    updated_at: datetime
    updated_by: str
    derived_tier: ValueTier = ValueTier.MASS
    tier_override: ValueTier | None = None
    tier_override_reason: str = ""
    # When the customer first became ACTIVE (held a product).
    customer_since: datetime | None = None
    version: int = 1
    kyc: Kyc = field(default_factory=Kyc)
    totals: Totals = field(default_factory=Totals)
    # Set when this account was merged into another (a tombstone that resolves to it).
    merged_into: str = ""
    # The household the person belongs to ('' for none); kept by the household records.
    household_id: str = ""
    # A legal hold blocks erasure.
    legal_hold: bool = False
    legal_hold_reason: str = ""
    # When the person's data was erased (the account is then an anonymous shell).
    erased_at: datetime | None = None

    @property
    def keys(self) -> ContactKeys:
        return self.profile.keys

    @property
    def value_tier(self) -> ValueTier:
        return self.tier_override or self.derived_tier

    def _touch(self, actor: str, now: datetime) -> None:
        self.updated_at, self.updated_by = now, actor
        self.version += 1

    def change_profile(self, new: Profile, fields: frozenset[str], actor: str, now: datetime) -> list[str]:
        """Takes `fields` of `new`; returns the names that really changed (none: nothing recorded)."""
        old = self.profile
        changed = sorted(name for name in fields if getattr(new, name) != getattr(old, name))
        if not changed:
            return []
        if "lifecycle_stage" in changed:
            self._check_stage_move(new.lifecycle_stage, now)
        self.profile = replace(old, **{name: getattr(new, name) for name in changed})
        if "national_id" in changed:
            self.profile = replace(self.profile, national_id_legacy=new.national_id_legacy)
        self._touch(actor, now)
        return changed

    def _check_stage_move(self, stage: LifecycleStage, now: datetime) -> None:
        if stage is LifecycleStage.PROSPECT and self.profile.lifecycle_stage in _STAGES_AFTER_PROSPECT:
            raise FailedPrecondition(f"an account that has been {self.profile.lifecycle_stage} cannot become a PROSPECT again")
        if stage is LifecycleStage.ACTIVE and self.customer_since is None:
            self.customer_since = now

    def override_tier(self, tier: ValueTier, reason: str, actor: str, now: datetime) -> None:
        self.tier_override, self.tier_override_reason = tier, reason
        self._touch(actor, now)

    def clear_tier_override(self, actor: str, now: datetime) -> None:
        if self.tier_override is None:
            raise FailedPrecondition("the account's value tier is not overridden")
        self.tier_override, self.tier_override_reason = None, ""
        self._touch(actor, now)

    def set_holdings(self, totals: Totals, tier: ValueTier, actor: str, now: datetime) -> list[str]:
        """New totals and the tier derived from them; returns what changed."""
        changed = [name for name, same in (("totals", totals == self.totals), ("derived_value_tier", tier == self.derived_tier)) if not same]
        if changed:
            self.totals, self.derived_tier = totals, tier
            self._touch(actor, now)
        return changed

    def set_kyc(self, kyc: Kyc, actor: str, now: datetime) -> None:
        self.kyc = kyc
        self._touch(actor, now)

    def record_territory(self, territory_id: str, owner_id: str, actor: str, now: datetime) -> list[str]:
        """AccountTerritoryAssigned: the territory and its RM; returns the fields that changed."""
        changed = [name for name, value in (("territory_id", territory_id), ("owner_id", owner_id)) if getattr(self.profile, name) != value]
        if changed:
            self.profile = replace(self.profile, territory_id=territory_id, owner_id=owner_id)
            self._touch(actor, now)
        return changed

    def record_acquisition(self, acquisition: Acquisition, actor: str, now: datetime) -> bool:
        """First touch wins: True when recorded, False when the account already had one."""
        if self.acquisition is not None:
            return False
        self.acquisition = acquisition
        self._touch(actor, now)
        return True


@dataclass(frozen=True)
class AccountChange:
    """One entry of the account's own timeline; names the fields, never their (PII) values."""

    change_id: str
    account_id: str
    kind: ChangeKind
    changed_at: datetime
    actor: str
    changed_fields: tuple[str, ...] = ()
    reason: str = ""


@dataclass(frozen=True)
class Match:
    account: Account
    field: MatchField


def best_match(keys: ContactKeys, candidates: list[Account]) -> Match | None:
    """The account holding the strongest of `keys`, or None when none holds any."""
    for match_field, value in keys.in_priority():
        for account in candidates:
            if account.profile.holds(match_field, value):
                return Match(account, match_field)
    return None
