"""Product holdings: what the customer holds with the bank, from won opportunities and from
core-banking snapshots, summed per account into deposits (DEPOSITS), loans (LENDING) and assets
under management (AUM), from which the value tier is derived (TierThresholds). The sums are
computed in the database, set-based, by HoldingRepository.resummarise.

Amounts are integer VND (đồng has no minor unit); only VND holdings are accepted, since the
totals and tier thresholds are in VND and the CRM does no currency conversion.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date, datetime
from enum import StrEnum

from crm_account.domain.model import ValueTier, is_valid_id
from crm_common.errors import FieldViolation
from crm_common.products import ProductType

MAX_ROWS = 10_000
MAX_AMOUNT = 10**15  # 1 million billion đồng: above any real balance, below int64
_CORE_REF = re.compile(r"^[A-Za-z0-9._/-]{1,40}$")


DEPOSITS = frozenset({ProductType.CASA, ProductType.TERM_DEPOSIT})
LENDING = frozenset({ProductType.CREDIT_CARD, ProductType.UNSECURED_LOAN, ProductType.MORTGAGE, ProductType.AUTO_LOAN})
# Assets under management: deposits plus insurance cash values.
AUM = DEPOSITS | {ProductType.BANCASSURANCE}


class HoldingStatus(StrEnum):
    OPEN = "OPEN"
    CLOSED = "CLOSED"


class HoldingCloseReason(StrEnum):
    """Why a holding closed ('' while open)."""

    NONE = ""
    # Core banking reported the arrangement closed.
    CORE_BANKING = "CORE_BANKING"
    # The won opportunity that opened it was reopened: the sale is reversed (incentive clawback).
    OPPORTUNITY_REVERSED = "OPPORTUNITY_REVERSED"


class HoldingSource(StrEnum):
    OPPORTUNITY = "OPPORTUNITY"
    CORE_BANKING = "CORE_BANKING"


class RowOutcome(StrEnum):
    OPENED = "OPENED"
    UPDATED = "UPDATED"
    CLOSED = "CLOSED"
    UNCHANGED = "UNCHANGED"
    REJECTED = "REJECTED"


@dataclass(frozen=True)
class Holding:
    holding_id: str
    account_id: str
    product_type: ProductType
    # '' until core banking reports a holding a won opportunity opened.
    core_ref: str
    status: HoldingStatus
    balance: int
    limit: int
    opened_on: date | None
    closed_on: date | None
    source: HoldingSource
    opportunity_id: str
    updated_at: datetime
    close_reason: HoldingCloseReason = HoldingCloseReason.NONE

    def reversed_by_reopening(self, on: date, now: datetime) -> Holding:
        """Closed because the won opportunity that opened it was reopened."""
        return replace(self, status=HoldingStatus.CLOSED, closed_on=on, close_reason=HoldingCloseReason.OPPORTUNITY_REVERSED, updated_at=now)


@dataclass(frozen=True)
class TierThresholds:
    """AUM (VND) from which a customer is AFFLUENT (priority banking) and PRIVATE."""

    affluent_aum: int = 1_000_000_000
    private_aum: int = 25_000_000_000

    def tier(self, aum: int) -> ValueTier:
        if aum >= self.private_aum:
            return ValueTier.PRIVATE
        if aum >= self.affluent_aum:
            return ValueTier.AFFLUENT
        return ValueTier.MASS


@dataclass(frozen=True)
class HoldingRecordDraft:
    """A snapshot row as sent; enums as names ('' unset, '?' unknown); money as (currency, amount)."""

    account_id: str
    core_ref: str
    product_type: str
    status: str
    balance: tuple[str, int] = ("", 0)
    limit: tuple[str, int] = ("", 0)
    opened_on: tuple[int, int, int] | None = None
    closed_on: tuple[int, int, int] | None = None


@dataclass(frozen=True)
class HoldingRecord:
    account_id: str
    core_ref: str
    product_type: ProductType
    status: HoldingStatus
    balance: int
    limit: int
    opened_on: date | None
    closed_on: date | None


def _money(name: str, value: tuple[str, int], violations: list[FieldViolation]) -> int:
    currency, amount = value
    if currency not in ("", "VND"):
        violations.append(FieldViolation(f"{name}.currency_code", "only VND holdings are accepted"))
    if not 0 <= amount <= MAX_AMOUNT:
        violations.append(FieldViolation(f"{name}.amount_minor", f"between 0 and {MAX_AMOUNT}"))
    return amount


def _day(name: str, value: tuple[int, int, int] | None, today: date, violations: list[FieldViolation]) -> date | None:
    if value is None:
        return None
    try:
        day = date(*value)
    except ValueError:
        violations.append(FieldViolation(name, "not a calendar date"))
        return None
    if day > today:
        violations.append(FieldViolation(name, "in the future"))
    return day


def clean_record(draft: HoldingRecordDraft, today: date) -> tuple[HoldingRecord | None, list[FieldViolation]]:
    """A clean snapshot row, or every violation (field names are HoldingRecord's)."""
    violations: list[FieldViolation] = []
    if not draft.account_id:
        violations.append(FieldViolation("account_id", "required"))
    elif not is_valid_id(draft.account_id):
        violations.append(FieldViolation("account_id", "not a valid account id"))
    core_ref = draft.core_ref.strip()
    if not _CORE_REF.match(core_ref):
        violations.append(FieldViolation("core_ref", "required: 1-40 of A-Z a-z 0-9 . _ / -"))
    product = ProductType.__members__.get(draft.product_type)
    if product is None:
        violations.append(FieldViolation("product_type", "required" if not draft.product_type else "unknown value"))
    status = HoldingStatus.__members__.get(draft.status)
    if status is None:
        violations.append(FieldViolation("status", "required: OPEN or CLOSED" if not draft.status else "unknown value"))
    balance = _money("balance", draft.balance, violations)
    limit = _money("limit", draft.limit, violations)
    if limit and product is not None and product not in LENDING:
        violations.append(FieldViolation("limit", "only cards and loans have a limit"))
    opened_on = _day("open_date", draft.opened_on, today, violations)
    closed_on = _day("close_date", draft.closed_on, today, violations)
    if closed_on is not None and status is HoldingStatus.OPEN:
        violations.append(FieldViolation("close_date", "only a CLOSED holding has one"))
    if status is HoldingStatus.CLOSED and closed_on is None and draft.closed_on is None:
        closed_on = today
    if opened_on and closed_on and closed_on < opened_on:
        violations.append(FieldViolation("close_date", "before open_date"))
    if violations or product is None or status is None:
        return None, violations
    return HoldingRecord(draft.account_id, core_ref, product, status, balance, limit, opened_on, closed_on), []


def apply_record(existing: Holding, record: HoldingRecord, now: datetime) -> tuple[Holding, RowOutcome]:
    """`existing` brought to what core banking reports."""
    updated = replace(
        existing,
        core_ref=record.core_ref,
        product_type=record.product_type,
        status=record.status,
        balance=record.balance,
        limit=record.limit,
        opened_on=record.opened_on or existing.opened_on,
        closed_on=record.closed_on if record.status is HoldingStatus.CLOSED else None,
        # Core banking is the record of truth: what it reports closed, it closed.
        close_reason=HoldingCloseReason.CORE_BANKING if record.status is HoldingStatus.CLOSED else HoldingCloseReason.NONE,
    )
    if updated == existing:
        return existing, RowOutcome.UNCHANGED
    updated = replace(updated, updated_at=now)
    if existing.status is HoldingStatus.OPEN and updated.status is HoldingStatus.CLOSED:
        return updated, RowOutcome.CLOSED
    if existing.status is HoldingStatus.CLOSED and updated.status is HoldingStatus.OPEN:
        return updated, RowOutcome.OPENED
    return updated, RowOutcome.UPDATED


def new_from_record(holding_id: str, record: HoldingRecord, now: datetime) -> tuple[Holding, RowOutcome]:
    holding = Holding(
        holding_id,
        record.account_id,
        record.product_type,
        record.core_ref,
        record.status,
        record.balance,
        record.limit,
        record.opened_on,
        record.closed_on,
        HoldingSource.CORE_BANKING,
        "",
        now,
        HoldingCloseReason.CORE_BANKING if record.status is HoldingStatus.CLOSED else HoldingCloseReason.NONE,
    )
    # A snapshot may carry arrangements closed long ago: kept, but nothing to announce.
    return holding, RowOutcome.OPENED if record.status is HoldingStatus.OPEN else RowOutcome.UNCHANGED


def from_won_opportunity(
    holding_id: str, account_id: str, opportunity_id: str, product: ProductType, amount: int, won_on: date, now: datetime
) -> Holding:
    """What a won opportunity opens before core banking reports it: for cards and loans the
    amount is the limit granted (nothing owed yet on a card; a loan is disbursed in full)."""
    balance = 0 if product is ProductType.CREDIT_CARD else amount
    limit = amount if product in LENDING else 0
    return Holding(
        holding_id, account_id, product, "", HoldingStatus.OPEN, balance, limit, won_on, None, HoldingSource.OPPORTUNITY, opportunity_id, now
    )


def won_again(reversed_holding: Holding, amount: int, won_on: date, now: datetime) -> Holding:
    """A reversed holding open again: its opportunity, reopened, was won a second time."""
    fresh = from_won_opportunity(
        reversed_holding.holding_id,
        reversed_holding.account_id,
        reversed_holding.opportunity_id,
        reversed_holding.product_type,
        amount,
        won_on,
        now,
    )
    return replace(fresh, core_ref=reversed_holding.core_ref)
