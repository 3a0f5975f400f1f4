"""Pipeline and forecast arithmetic, in integer đồng (no float drift).

Every opportunity contributes to a rollup once per scope it counts in (its owner, its team,
its territory), keyed by what it is (product, stage, forecast category, status) and when it
counts (the month it is expected to close while open, the month it closed once won or lost).
Changes move the contribution from one key to another, so a forecast sums the few hundred rows
of one scope instead of scanning every opportunity.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from crm_common.errors import FieldViolation
from crm_opportunity.domain.model import DEFAULT_CURRENCY, Opportunity, Status

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
CLOSED = "CLOSED"


def month_of(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m") if moment is not None else ""


# The scopes a forecast is asked for; every contribution is kept once per scope.
SCOPES = ("owner_id", "team_id", "territory_id")


@dataclass(frozen=True)
class RollupKey:
    # (scope kind, id) → e.g. ("territory_id", "HCM-Q1")
    scopes: tuple[tuple[str, str], ...]
    product: str
    stage: str
    forecast_category: str
    status: str
    period_month: str
    currency: str


@dataclass(frozen=True)
class Contribution:
    key: RollupKey
    count: int
    amount: int
    # amount × probability ÷ 100, rounded down per opportunity: sums stay exact integers.
    weighted: int

    def negated(self) -> Contribution:
        return Contribution(self.key, -self.count, -self.amount, -self.weighted)


def contribution(opportunity: Opportunity) -> Contribution:
    closed = opportunity.status is not Status.OPEN
    scopes = tuple((kind, getattr(opportunity, kind)) for kind in SCOPES if getattr(opportunity, kind))
    key = RollupKey(
        scopes=scopes,
        product=str(opportunity.product),
        stage=opportunity.stage,
        forecast_category=opportunity.forecast_category,
        status=str(opportunity.status),
        period_month=month_of(opportunity.closed_at if closed else opportunity.expected_close_at),
        currency=opportunity.amount.currency,
    )
    amount = opportunity.amount.amount_minor
    return Contribution(key, 1, amount, amount * opportunity.probability_percent // 100)


@dataclass(frozen=True)
class RollupRow:
    """A summed slice of the rollup: what the forecast reads."""

    product: str
    stage: str
    forecast_category: str
    status: str
    count: int
    amount: int
    weighted: int


@dataclass(frozen=True)
class Figures:
    open_count: int = 0
    open_pipeline: int = 0
    weighted_pipeline: int = 0
    commit: int = 0
    best_case: int = 0
    won_count: int = 0
    won: int = 0


def figures(rows: Iterable[RollupRow]) -> Figures:
    """Open pipeline, weighted pipeline, commit (won + open COMMIT), best case (commit + open
    BEST_CASE) and won, over rows of one currency."""
    open_count = open_pipeline = weighted = commit_open = best_case_open = won_count = won = 0
    for row in rows:
        if row.status == str(Status.OPEN):
            open_count += row.count
            open_pipeline += row.amount
            weighted += row.weighted
            if row.forecast_category == "COMMIT":
                commit_open += row.amount
            elif row.forecast_category == "BEST_CASE":
                best_case_open += row.amount
        elif row.status == str(Status.WON):
            won_count += row.count
            won += row.amount
    commit = won + commit_open
    return Figures(open_count, open_pipeline, weighted, commit, commit + best_case_open, won_count, won)


def month_range(from_month: str, to_month: str) -> tuple[tuple[str, str] | None, list[FieldViolation]]:
    violations = []
    for name, value in (("from_month", from_month), ("to_month", to_month)):
        if not _MONTH.match(value):
            violations.append(FieldViolation(name, "a month as YYYY-MM"))
    if not violations and from_month > to_month:
        violations.append(FieldViolation("to_month", "before from_month"))
    if not violations and (int(to_month[:4]) - int(from_month[:4])) * 12 + int(to_month[5:]) - int(from_month[5:]) > 60:
        violations.append(FieldViolation("to_month", "at most 60 months after from_month"))
    return ((from_month, to_month) if not violations else None), violations


FORECAST_CURRENCY = DEFAULT_CURRENCY
