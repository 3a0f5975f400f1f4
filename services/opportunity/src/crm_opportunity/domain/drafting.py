"""Turning what a caller sent into a clean new opportunity: every field validated at once.

Field names in violations are the API's (account_id, amount.amount_minor, ...).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from crm_common.errors import FieldViolation
from crm_opportunity.domain.model import DEFAULT_CURRENCY, Money, ProductType, is_valid_id

MAX_ID = 100


@dataclass(frozen=True)
class OpportunityDraft:
    """An opportunity as the caller sent it; product is the enum name without its prefix."""

    account_id: str = ""
    product: str = ""
    amount_minor: int | None = None
    currency: str = ""
    expected_close_at: datetime | None = None
    owner_id: str = ""
    team_id: str = ""
    source_lead_id: str = ""
    campaign_id: str = ""
    territory_id: str = ""


@dataclass(frozen=True)
class NewOpportunity:
    account_id: str
    product: ProductType
    amount: Money
    expected_close_at: datetime | None
    owner_id: str
    team_id: str
    source_lead_id: str
    campaign_id: str
    territory_id: str = ""


def clean_money(amount_minor: int | None, currency: str, violations: list[FieldViolation], prefix: str = "amount") -> Money:
    """No amount is zero; no currency is VND; codes are taken in any case and kept upper-case."""
    code = currency.strip().upper() or DEFAULT_CURRENCY
    problem = Money.currency_problem(code)
    if problem:
        violations.append(FieldViolation(f"{prefix}.currency_code", problem))
    amount = amount_minor or 0
    if amount < 0:
        violations.append(FieldViolation(f"{prefix}.amount_minor", "must not be negative"))
    return Money(amount, code)


def clean_opportunity(draft: OpportunityDraft) -> tuple[NewOpportunity | None, list[FieldViolation]]:
    """The clean opportunity, or None and every violation found."""
    violations: list[FieldViolation] = []
    account_id = draft.account_id.strip()
    if not account_id:
        violations.append(FieldViolation("account_id", "required"))
    elif not is_valid_id(account_id):
        violations.append(FieldViolation("account_id", "not a valid account id"))
    product = None
    if not draft.product:
        violations.append(FieldViolation("product", "required"))
    elif draft.product not in ProductType.__members__:
        violations.append(FieldViolation("product", f"unknown product {draft.product}"))
    else:
        product = ProductType(draft.product)
    amount = clean_money(draft.amount_minor, draft.currency, violations)
    ids = {}
    for field in ("owner_id", "team_id", "source_lead_id", "campaign_id", "territory_id"):
        ids[field] = getattr(draft, field).strip()
        if len(ids[field]) > MAX_ID:
            violations.append(FieldViolation(field, f"at most {MAX_ID} characters"))
    if violations or product is None:
        return None, violations
    return NewOpportunity(account_id, product, amount, draft.expected_close_at, **ids), []
