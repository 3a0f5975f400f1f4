"""Attainment, coverage, pacing and leaderboards, in exact integers.

Credits come from events: OpportunityWon (the won amount; a card counts 1) and HoldingOpened
(core-banking holdings only: a holding that a won opportunity opened was already counted by the
win). Each source event applies once (`AttainmentLedger` remembers event ids), and each
opportunity or holding has at most one open credit: OpportunityReopened and HoldingClosed
subtract exactly what that credit added, from the same scopes and the same month, so a
reopened deal restates the period it had counted in. A credit goes to every scope given (the
RM, their team, the territory); a territory's figure covers its descendants by summing them
(the service keeps the rollups).

When an account moves mid-period, `attribution` says whose figures a deal counts in: with
PRO_RATE, whoever owned the account on the day it closed; with KEEP, the owner at the move
keeps every deal closed in the rest of that period.

Ratios are basis points (10000 = 100 %), rounded down:
- attainment = actual ÷ target (unset without a positive target);
- pacing: expected = target × days elapsed ÷ days in period (linear by days, the as-of day
  counted as elapsed), rounded down; pace = actual ÷ expected; projected = actual × days in
  period ÷ days elapsed;
- coverage = open weighted pipeline ÷ remaining quota, remaining = max(target − actual, 0)
  (unset once the quota is met).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date
from enum import StrEnum

from crm_common.products import ProductType
from crm_territory.domain.quotas import BASIS_POINTS, Measure, MovePolicy, Period, PeriodKind, Scope, elapsed_days

MEASURE_OF_PRODUCT: dict[ProductType, Measure] = {
    ProductType.CREDIT_CARD: Measure.NEW_CARDS,
    ProductType.UNSECURED_LOAN: Measure.LOAN_DISBURSED,
    ProductType.MORTGAGE: Measure.LOAN_DISBURSED,
    ProductType.AUTO_LOAN: Measure.LOAN_DISBURSED,
    ProductType.TERM_DEPOSIT: Measure.DEPOSIT_GROWTH,
    ProductType.CASA: Measure.DEPOSIT_GROWTH,
    ProductType.BANCASSURANCE: Measure.INSURANCE_PREMIUM,
}


class Source(StrEnum):
    OPPORTUNITY_WON = "OPPORTUNITY_WON"
    OPPORTUNITY_REOPENED = "OPPORTUNITY_REOPENED"
    HOLDING_OPENED = "HOLDING_OPENED"
    HOLDING_CLOSED = "HOLDING_CLOSED"


@dataclass(frozen=True)
class Credit:
    """One change to attainment; amount is signed (reversals are negative)."""

    source_event_id: str
    source: Source
    object_id: str
    account_id: str
    measure: Measure
    amount: int
    month: str  # "YYYY-MM" it counts in
    scopes: tuple[Scope, ...]


def month_key(day: date) -> str:
    return f"{day.year}-{day.month:02d}"


def months_of(period: Period) -> list[str]:
    first = period.start.month
    count = {PeriodKind.MONTH: 1, PeriodKind.QUARTER: 3, PeriodKind.YEAR: 12}[period.kind]
    return [f"{period.year}-{month:02d}" for month in range(first, first + count)]


class AttainmentLedger:
    """Credits applied exactly once in effect, summed per (scope, measure, month). The service
    keeps the same three things in tables: handled event ids, open credits, rollups."""

    def __init__(self) -> None:
        self._handled: set[str] = set()
        self._open: dict[tuple[str, str], Credit] = {}
        self._totals: dict[tuple[Scope, Measure, str], int] = {}

    def _credit(self, key: tuple[str, str], credit: Credit) -> Credit | None:
        if credit.source_event_id in self._handled:
            return None
        self._handled.add(credit.source_event_id)
        if key in self._open:
            # One open credit per opportunity or holding: a second win without a reopening
            # between (a redelivery under another id) must not count twice.
            return None
        self._open[key] = credit
        self._add(credit)
        return credit

    def _reverse(self, key: tuple[str, str], event_id: str, source: Source) -> Credit | None:
        if event_id in self._handled:
            return None
        self._handled.add(event_id)
        original = self._open.pop(key, None)
        if original is None:
            return None
        reversal = replace(original, source_event_id=event_id, source=source, amount=-original.amount)
        self._add(reversal)
        return reversal

    def _add(self, credit: Credit) -> None:
        for scope in credit.scopes:
            key = (scope, credit.measure, credit.month)
            self._totals[key] = self._totals.get(key, 0) + credit.amount

    def won(
        self, event_id: str, opportunity_id: str, account_id: str, product: ProductType, amount: int, closed_on: date, scopes: tuple[Scope, ...]
    ) -> Credit | None:
        """Credits a won opportunity; None when the event was handled before or the deal
        already counts."""
        measure = MEASURE_OF_PRODUCT[product]
        credit = Credit(
            event_id, Source.OPPORTUNITY_WON, opportunity_id, account_id, measure, 1 if measure.is_count else amount, month_key(closed_on), scopes
        )
        return self._credit(("opportunity", opportunity_id), credit)

    def reopened(self, event_id: str, opportunity_id: str) -> Credit | None:
        """Subtracts a reopened opportunity's win (nothing when it was not counted as won)."""
        return self._reverse(("opportunity", opportunity_id), event_id, Source.OPPORTUNITY_REOPENED)

    def holding_opened(
        self,
        event_id: str,
        holding_id: str,
        account_id: str,
        product: ProductType,
        amount: int,
        opened_on: date,
        scopes: tuple[Scope, ...],
        from_opportunity: bool,
    ) -> Credit | None:
        if from_opportunity:
            self._handled.add(event_id)
            return None
        measure = MEASURE_OF_PRODUCT[product]
        credit = Credit(
            event_id, Source.HOLDING_OPENED, holding_id, account_id, measure, 1 if measure.is_count else amount, month_key(opened_on), scopes
        )
        return self._credit(("holding", holding_id), credit)

    def holding_closed(self, event_id: str, holding_id: str) -> Credit | None:
        return self._reverse(("holding", holding_id), event_id, Source.HOLDING_CLOSED)

    def actual(self, scope: Scope, measure: Measure, period: Period) -> int:
        return sum(self._totals.get((scope, measure, month), 0) for month in months_of(period))


def attribution(
    policy: MovePolicy, period: Period, moved_on: date, booked_on: date, before: tuple[Scope, ...], after: tuple[Scope, ...]
) -> tuple[Scope, ...]:
    """Whose figures a deal on a moved account counts in."""
    if booked_on < moved_on:
        return before
    if policy is MovePolicy.KEEP and period.contains(moved_on) and period.contains(booked_on):
        return before
    return after


def ratio_bp(numerator: int, denominator: int) -> int | None:
    return numerator * BASIS_POINTS // denominator if denominator > 0 else None


@dataclass(frozen=True)
class Pacing:
    expected: int
    actual: int
    days_elapsed: int
    days_in_period: int

    @property
    def gap(self) -> int:
        return self.actual - self.expected

    @property
    def pace_bp(self) -> int | None:
        return ratio_bp(self.actual, self.expected)

    @property
    def projected(self) -> int:
        return self.actual * self.days_in_period // self.days_elapsed if self.days_elapsed else 0


def pacing(target: int, actual: int, period: Period, as_of: date) -> Pacing:
    elapsed = elapsed_days(period, as_of)
    return Pacing(target * elapsed // period.days, actual, elapsed, period.days)


@dataclass(frozen=True)
class Coverage:
    weighted_pipeline: int
    remaining: int

    @property
    def coverage_bp(self) -> int | None:
        return ratio_bp(self.weighted_pipeline, self.remaining)


def coverage(weighted_pipeline: int, target: int, actual: int) -> Coverage:
    return Coverage(weighted_pipeline, max(target - actual, 0))


@dataclass(frozen=True)
class Standing:
    scope: Scope
    target: int
    actual: int

    @property
    def attainment_bp(self) -> int | None:
        return ratio_bp(self.actual, self.target)


@dataclass(frozen=True)
class LeaderboardEntry:
    rank: int
    standing: Standing


def leaderboard(standings: Iterable[Standing], limit: int = 50) -> list[LeaderboardEntry]:
    """Ranked by attainment (scopes without a target last), then actual, then id; ties on
    attainment and actual share a rank (1, 2, 2, 4)."""

    def key(s: Standing) -> tuple[int, int, int, str]:
        bp = s.attainment_bp
        return (0 if bp is not None else 1, -(bp or 0), -s.actual, s.scope.id)

    ordered = sorted(standings, key=key)
    entries: list[LeaderboardEntry] = []
    rank = 0
    previous: tuple[int, int, int] | None = None
    for position, standing in enumerate(ordered[:limit], start=1):
        tie = key(standing)[:3]
        if tie != previous:
            rank = position
            previous = tie
        entries.append(LeaderboardEntry(rank, standing))
    return entries
