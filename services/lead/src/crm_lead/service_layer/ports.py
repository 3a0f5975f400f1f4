"""What conversion needs from the account and opportunity services, free of any transport."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class ResolvedAccount:
    account_id: str
    matched: bool


class AccountDirectory(Protocol):
    def resolve_person(
        self, request_id: str, full_name: str, phone: str, email: str, national_id: str, owner_id: str, lead_id: str
    ) -> ResolvedAccount: ...


@dataclass(frozen=True)
class NewOpportunity:
    request_id: str
    account_id: str
    product: str
    amount_minor: int | None
    currency: str
    expected_close_at: datetime | None
    owner_id: str
    team_id: str
    lead_id: str
    campaign_id: str
    # Where the lead was worked: the opportunity lands in the same data scope.
    territory_id: str = ""


class OpportunityBook(Protocol):
    def create(self, opportunity: NewOpportunity) -> str:
        """Creates (idempotently on request_id) and returns the opportunity id."""
        ...
