"""Forecast arithmetic: contributions and figures in integer đồng, with no float drift."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from crm_opportunity.domain.forecast import Figures, RollupRow, contribution, figures, month_range
from crm_opportunity.domain.model import Money, Opportunity, ProductType, Status

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def opportunity(amount: int, probability: int, **fields: object) -> Opportunity:
    base = Opportunity(
        opportunity_id="o1",
        account_id="a1",
        product=ProductType.MORTGAGE,
        amount=Money(amount),
        expected_close_at=datetime(2026, 12, 20, tzinfo=UTC),
        owner_id="rm-1",
        team_id="team-a",
        source_lead_id="",
        campaign_id="",
        status=Status.OPEN,
        stage="valuation",
        probability_percent=probability,
        created_at=NOW,
        created_by="rm-1",
        updated_at=NOW,
        updated_by="rm-1",
        territory_id="HCM-Q1",
        forecast_category="BEST_CASE",
    )
    return replace(base, **fields)  # type: ignore[arg-type]


def test_weighted_is_rounded_down_per_opportunity_in_integers() -> None:
    # 3 × (333,333,333 × 33 %) = 3 × 109,999,999.89 → 3 × 109,999,999 exactly, never 329,999,999.67
    parts = [contribution(opportunity(333_333_333, 33)) for _ in range(3)]
    assert sum(p.weighted for p in parts) == 329_999_997
    assert all(isinstance(p.weighted, int) for p in parts)


def test_a_huge_book_sums_exactly() -> None:
    amount = 9_007_199_254_740_993  # beyond a float's exact integers
    assert contribution(opportunity(amount, 50)).weighted == amount * 50 // 100


def test_open_counts_by_expected_close_and_closed_by_close_date() -> None:
    open_key = contribution(opportunity(1, 10)).key
    won = contribution(opportunity(1, 100, status=Status.WON, closed_at=datetime(2026, 11, 2, tzinfo=UTC), forecast_category="CLOSED")).key
    assert (open_key.period_month, won.period_month) == ("2026-12", "2026-11")
    assert open_key.scopes == (("owner_id", "rm-1"), ("team_id", "team-a"), ("territory_id", "HCM-Q1"))
    assert contribution(opportunity(1, 10, team_id="")).key.scopes == (("owner_id", "rm-1"), ("territory_id", "HCM-Q1"))


def test_figures() -> None:
    rows = [
        RollupRow("MORTGAGE", "valuation", "BEST_CASE", "OPEN", 2, 4_000, 2_000),
        RollupRow("MORTGAGE", "submitted_to_los", "COMMIT", "OPEN", 1, 3_000, 1_950),
        RollupRow("MORTGAGE", "qualification", "PIPELINE", "OPEN", 5, 10_000, 1_000),
        RollupRow("MORTGAGE", "closed_won", "CLOSED", "WON", 1, 7_000, 7_000),
        RollupRow("MORTGAGE", "closed_lost", "CLOSED", "LOST", 4, 9_000, 0),
    ]
    assert figures(rows) == Figures(
        open_count=8, open_pipeline=17_000, weighted_pipeline=4_950, commit=10_000, best_case=14_000, won_count=1, won=7_000
    )
    assert figures([]) == Figures()


@pytest.mark.parametrize(
    ("start", "end", "fields"),
    [("2026-01", "2026-12", []), ("2026-1", "2026-12", ["from_month"]), ("2026-12", "2026-01", ["to_month"]), ("2020-01", "2026-01", ["to_month"])],
)
def test_month_ranges(start: str, end: str, fields: list[str]) -> None:
    months, violations = month_range(start, end)
    assert [v.field for v in violations] == fields
    assert (months is None) == bool(fields)
