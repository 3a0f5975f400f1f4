"""The person account: one golden record per customer, found again by its contact keys."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class AccountType(StrEnum):
    PERSON = "PERSON"
    BUSINESS = "BUSINESS"


class LifecycleStage(StrEnum):
    PROSPECT = "PROSPECT"
    ACTIVE = "ACTIVE"
    DORMANT = "DORMANT"
    CLOSED = "CLOSED"


class MatchField(StrEnum):
    NATIONAL_ID = "NATIONAL_ID"
    PHONE = "PHONE"
    EMAIL = "EMAIL"


# A national id names one person; a phone or an email may be shared within a family, and an
# email is the easiest to mistype: so the strongest key decides when keys disagree.
MATCH_PRIORITY = (MatchField.NATIONAL_ID, MatchField.PHONE, MatchField.EMAIL)


def is_valid_id(value: str) -> bool:
    """Ids are canonical lower-case UUID strings (crm_common.db.new_id)."""
    try:
        return str(uuid.UUID(value)) == value
    except ValueError:
        return False


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


@dataclass
class PersonAccount:
    account_id: str
    full_name: str
    national_id: str
    phone_e164: str
    email: str
    owner_id: str
    lifecycle_stage: LifecycleStage
    # The lead the account was created for, if any.
    source_lead_id: str
    acquisition: Acquisition | None
    created_at: datetime
    created_by: str
    updated_at: datetime
    updated_by: str
    account_type: AccountType = AccountType.PERSON

    @property
    def keys(self) -> ContactKeys:
        return ContactKeys(self.national_id, self.phone_e164, self.email)

    def record_acquisition(self, acquisition: Acquisition, actor: str, now: datetime) -> bool:
        """First touch wins: True when recorded, False when the account already had one."""
        if self.acquisition is not None:
            return False
        self.acquisition = acquisition
        self.updated_at = now
        self.updated_by = actor
        return True


@dataclass(frozen=True)
class Match:
    account: PersonAccount
    field: MatchField


def best_match(keys: ContactKeys, candidates: list[PersonAccount]) -> Match | None:
    """The account sharing the strongest of `keys`, or None when none shares any."""
    for field, value in keys.in_priority():
        for account in candidates:
            if account.keys.get(field) == value:
                return Match(account, field)
    return None
