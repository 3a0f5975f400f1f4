"""A merge explained before it happens, and undone after it happened.

Explaining (`field_decisions`): each field of the golden record with the account its value
comes from (MergePlan.field_sources) and the survivorship rule that chose it (`RULES`, the
rules of duplicates.plan_merge in words).

Undoing (`unmerged_survivor`, `MergeMoves`): a merge keeps both accounts as they were just
before it (snapshots, see the repository) and the ids of what moved from the merged account to
the survivor in this store. Undone, the merged account gets its own values back whole; the
survivor gives back what it took from the merged account (a value from it, its phones and
emails, its KYC) unless that field changed since the merge: a later change wins over the
undo, because someone decided it after the merge.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from crm_account.domain.duplicates import MergePlan
from crm_account.domain.kyc import KycStatus
from crm_account.domain.model import Account, BusinessProfile

_SURVIVOR_UNLESS_EMPTY = "the survivor's value unless it is empty"
_NEWEST = "the value of the account updated last, unless empty (what the customer told us most recently)"
RULES: dict[str, str] = {
    "full_name": "the survivor's, unless the merged one is the same name with the diacritics the survivor's lacks",
    "gender": _SURVIVOR_UNLESS_EMPTY,
    "date_of_birth": _SURVIVOR_UNLESS_EMPTY,
    "national_id": "a 12-digit CCCD beats a 9-digit CMND; otherwise the survivor's unless empty",
    "phones": "the union, the survivor's first, at most the cap (the rest is dropped)",
    "emails": "the union, the survivor's first, at most the cap (the rest is dropped)",
    "address": _NEWEST,
    "occupation": _NEWEST,
    "income_band": _NEWEST,
    "preferred_language": _NEWEST,
    "preferred_channel": _NEWEST,
    "best_contact_times": _NEWEST,
    "business.industry": _NEWEST,
    "business.tax_code": _SURVIVOR_UNLESS_EMPTY,
    "lifecycle_stage": "the most engaged: ACTIVE > DORMANT > CLOSED > PROSPECT",
    "owner_id": "the survivor's unless empty (the relationship manager stays)",
    "branch_id": _SURVIVOR_UNLESS_EMPTY,
    "territory_id": _SURVIVOR_UNLESS_EMPTY,
    "tier_override": "the survivor's override if it has one, else the merged account's, with its reason",
    "customer_since": "the earliest",
    "acquisition": "the earliest (first touch wins)",
    "kyc": "the survivor's verification, or the merged account's when the survivor has none",
}


@dataclass(frozen=True)
class FieldDecision:
    field: str
    winner_id: str  # an account id, or "<survivor_id>+<merged_id>" when both contribute
    rule: str


def field_decisions(plan: MergePlan, survivor: Account, merged: Account) -> list[FieldDecision]:
    """Every field of the golden record: whose value wins and why, in field order."""
    decisions = [FieldDecision(name, source, RULES.get(name, "")) for name, source in plan.field_sources.items()]
    kyc_from = merged if survivor.kyc.status is KycStatus.NOT_STARTED and merged.kyc.status is not KycStatus.NOT_STARTED else survivor
    decisions.append(FieldDecision("kyc", kyc_from.account_id, RULES["kyc"]))
    return decisions


@dataclass(frozen=True)
class Move:
    """Records that move from the merged account to the survivor in one service."""

    service: str
    records: str
    count: int = 0
    # The service relinks on AccountsMerged; its count is not known here.
    relinked_on_event: bool = False


@dataclass(frozen=True)
class MovedRelationship:
    """A relationship of the merged account; `added`: the move gave the survivor a new one
    (False: the survivor had it already, or it was with the survivor itself and was dropped)."""

    related_id: str
    kind: str
    note: str
    created_at: str  # ISO 8601
    created_by: str
    added: bool


@dataclass
class MergeMoves:
    """What a merge moved from the merged account to the survivor in the account store, by id."""

    match_keys: list[str] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)
    holdings: list[str] = field(default_factory=list)
    screening_hits: list[str] = field(default_factory=list)
    consent_decisions: list[str] = field(default_factory=list)
    relationships: list[MovedRelationship] = field(default_factory=list)
    # The merged account's household and role; whether the survivor took its place there.
    household_id: str = ""
    household_role: str = ""
    survivor_joined_household: bool = False

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> MergeMoves:
        data: dict[str, Any] = json.loads(text) if text else {}
        data["relationships"] = [MovedRelationship(**r) for r in data.get("relationships", [])]
        return cls(**data)


def _profile_value(account: Account, name: str) -> Any:
    if name.startswith("business."):
        return getattr(account.profile.business or BusinessProfile(), name.removeprefix("business."))
    return getattr(account.profile, name)


def unmerged_survivor(current: Account, before: Account, merged_before: Account, plan: MergePlan) -> tuple[Account, list[str]]:
    """The survivor without what it took from the merged account, and the fields given back.

    `before`/`merged_before`: both accounts just before the merge; `plan`: the merge's plan
    (plan_merge of those two). A field whose value came from the merged account returns to the
    survivor's own earlier value unless it changed since the merge; phones and emails lose the
    values only the merged account had.
    """
    merged_id = merged_before.account_id
    profile, business = current.profile, current.profile.business
    survivor = replace(current)
    given_back: list[str] = []
    for name, source in plan.field_sources.items():
        if merged_id not in source.split("+"):
            continue
        if name in ("phones", "emails"):
            only_merged = set(getattr(merged_before.profile, name)) - set(getattr(before.profile, name))
            kept = tuple(v for v in getattr(profile, name) if v not in only_merged)
            if kept != getattr(profile, name):
                changed: dict[str, Any] = {name: kept}
                profile = replace(profile, **changed)
                given_back.append(name)
        elif name == "national_id":
            before_id = (before.profile.national_id, before.profile.national_id_legacy)
            if (profile.national_id, profile.national_id_legacy) == (plan.profile.national_id, plan.profile.national_id_legacy) != before_id:
                profile = replace(profile, national_id=before.profile.national_id, national_id_legacy=before.profile.national_id_legacy)
                given_back.append(name)
        elif name.startswith("business."):
            attribute = name.removeprefix("business.")
            taken = _profile_value(_with_profile(current, plan), name)
            if business is not None and getattr(business, attribute) == taken != _profile_value(before, name):
                business = replace(business, **{attribute: _profile_value(before, name)})
                profile = replace(profile, business=business)
                given_back.append(name)
        elif name == "tier_override":
            taken_tier = (plan.tier_override, plan.tier_override_reason)
            if (survivor.tier_override, survivor.tier_override_reason) == taken_tier != (before.tier_override, before.tier_override_reason):
                survivor.tier_override, survivor.tier_override_reason = before.tier_override, before.tier_override_reason
                given_back.append(name)
        elif name == "customer_since":
            if survivor.customer_since == plan.customer_since != before.customer_since:
                survivor.customer_since = before.customer_since
                given_back.append(name)
        elif name == "acquisition":
            if survivor.acquisition == plan.acquisition != before.acquisition:
                survivor.acquisition = before.acquisition
                given_back.append(name)
        elif name in {f.name for f in fields(profile)} and getattr(profile, name) == getattr(plan.profile, name) != getattr(before.profile, name):
            profile = replace(profile, **{name: getattr(before.profile, name)})
            given_back.append(name)
    took_kyc = before.kyc.status is KycStatus.NOT_STARTED and merged_before.kyc.status is not KycStatus.NOT_STARTED
    if took_kyc and survivor.kyc == merged_before.kyc:
        survivor.kyc = before.kyc
        given_back.append("kyc")
    survivor.profile = profile
    return survivor, given_back


def _with_profile(account: Account, plan: MergePlan) -> Account:
    return replace(account, profile=plan.profile)
