"""The opportunity, its money and its status."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

DEFAULT_CURRENCY = "VND"
_CURRENCY = re.compile(r"[A-Z]{3}")


class Product(StrEnum):
    CREDIT_CARD = "CREDIT_CARD"
    UNSECURED_LOAN = "UNSECURED_LOAN"
    MORTGAGE = "MORTGAGE"
    TERM_DEPOSIT = "TERM_DEPOSIT"
    CASA = "CASA"
    BANCASSURANCE = "BANCASSURANCE"
    AUTO_LOAN = "AUTO_LOAN"


class Status(StrEnum):
    OPEN = "OPEN"
    WON = "WON"
    LOST = "LOST"


def is_valid_id(value: str) -> bool:
    """Ids are canonical lower-case UUID strings (crm_common.db.new_id)."""
    try:
        return str(uuid.UUID(value)) == value
    except ValueError:
        return False


@dataclass(frozen=True)
class Money:
    """An amount in integer minor units of an ISO 4217 currency (VND has none: đồng)."""

    amount_minor: int
    currency: str = DEFAULT_CURRENCY

    @staticmethod
    def currency_problem(code: str) -> str | None:
        return None if _CURRENCY.fullmatch(code) else "an ISO 4217 code: three letters, e.g. VND"


@dataclass
class Opportunity:
    opportunity_id: str
    account_id: str
    product: Product
    amount: Money
    expected_close_at: datetime | None
    owner_id: str
    team_id: str
    # The lead this opportunity was converted from, if any ('' otherwise).
    source_lead_id: str
    campaign_id: str
    status: Status
    stage: str
    probability_percent: int
    created_at: datetime
    created_by: str
    updated_at: datetime
    updated_by: str
