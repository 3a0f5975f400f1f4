"""Relationships between accounts (family, guarantors, owners and contacts of businesses) and
households: person accounts grouped as one family, whose holdings are summed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from crm_account.domain.model import Account, AccountType
from crm_common.errors import FailedPrecondition

MAX_NOTE = 200
MAX_HOUSEHOLD_NAME = 200
MAX_HOUSEHOLD_MEMBERS = 20


class RelationshipKind(StrEnum):
    """How the first account relates to the second ("A is PARENT of B")."""

    SPOUSE = "SPOUSE"
    PARENT = "PARENT"
    CHILD = "CHILD"
    GUARANTOR = "GUARANTOR"
    GUARANTEED_BY = "GUARANTEED_BY"
    OWNER = "OWNER"
    OWNED_BY = "OWNED_BY"
    CONTACT = "CONTACT"
    HAS_CONTACT = "HAS_CONTACT"


# Every relationship is stored in both directions, each read from its first account.
INVERSE = {
    RelationshipKind.SPOUSE: RelationshipKind.SPOUSE,
    RelationshipKind.PARENT: RelationshipKind.CHILD,
    RelationshipKind.CHILD: RelationshipKind.PARENT,
    RelationshipKind.GUARANTOR: RelationshipKind.GUARANTEED_BY,
    RelationshipKind.GUARANTEED_BY: RelationshipKind.GUARANTOR,
    RelationshipKind.OWNER: RelationshipKind.OWNED_BY,
    RelationshipKind.OWNED_BY: RelationshipKind.OWNER,
    RelationshipKind.CONTACT: RelationshipKind.HAS_CONTACT,
    RelationshipKind.HAS_CONTACT: RelationshipKind.CONTACT,
}

_P, _B = AccountType.PERSON, AccountType.BUSINESS
# The account types each kind joins (first, second); None: either type.
_TYPES: dict[RelationshipKind, tuple[AccountType | None, AccountType | None]] = {
    RelationshipKind.SPOUSE: (_P, _P),
    RelationshipKind.PARENT: (_P, _P),
    RelationshipKind.CHILD: (_P, _P),
    RelationshipKind.GUARANTOR: (_P, None),
    RelationshipKind.GUARANTEED_BY: (None, _P),
    RelationshipKind.OWNER: (_P, _B),
    RelationshipKind.OWNED_BY: (_B, _P),
    RelationshipKind.CONTACT: (_P, _B),
    RelationshipKind.HAS_CONTACT: (_B, _P),
}


class HouseholdRole(StrEnum):
    HEAD = "HEAD"
    MEMBER = "MEMBER"


@dataclass(frozen=True)
class Relationship:
    account_id: str
    related_id: str
    kind: RelationshipKind
    note: str
    created_at: datetime
    created_by: str

    def inverse(self) -> Relationship:
        return Relationship(self.related_id, self.account_id, INVERSE[self.kind], self.note, self.created_at, self.created_by)


def check_relationship(kind: RelationshipKind, first: Account, second: Account) -> None:
    """FailedPrecondition for a relationship that cannot hold between these two accounts."""
    if first.account_id == second.account_id:
        raise FailedPrecondition("an account cannot be related to itself")
    wanted_first, wanted_second = _TYPES[kind]
    for wanted, account, side in ((wanted_first, first, "account_id"), (wanted_second, second, "related_id")):
        if wanted is not None and account.profile.account_type is not wanted:
            raise FailedPrecondition(f"{kind} needs a {wanted} account as {side}; {account.account_id} is {account.profile.account_type}")


@dataclass(frozen=True)
class Household:
    household_id: str
    name: str
    created_at: datetime
    created_by: str
    updated_at: datetime
    updated_by: str


@dataclass(frozen=True)
class Member:
    account_id: str
    role: HouseholdRole


def check_joinable(account: Account, current_household: str) -> None:
    """Only a person account that belongs to no household may join one."""
    if account.profile.account_type is not AccountType.PERSON:
        raise FailedPrecondition(f"account {account.account_id} is a business: only persons form households")
    if current_household:
        raise FailedPrecondition(f"account {account.account_id} already belongs to household {current_household}")
