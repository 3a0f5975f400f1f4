"""Attainment exactly once with reversals, attribution on moves, pacing, coverage, leaderboards."""

from __future__ import annotations

from datetime import date

from crm_common.products import ProductType
from crm_territory.domain.attainment import AttainmentLedger, Standing, attribution, coverage, leaderboard, months_of, pacing
from crm_territory.domain.quotas import Measure, MovePolicy, Period, PeriodKind, Scope, ScopeKind

RM_A = Scope(ScopeKind.RM, "rm-a")
RM_B = Scope(ScopeKind.RM, "rm-b")
TEAM = Scope(ScopeKind.TEAM, "T-HN01")
HN01 = Scope(ScopeKind.TERRITORY, "VN.NORTH.HN.HN01")
Q3 = Period(PeriodKind.QUARTER, 2026, 3)
AUGUST = Period(PeriodKind.MONTH, 2026, 8)


def test_a_won_deal_counts_once_for_rm_team_and_territory_and_reopening_takes_it_back() -> None:
    ledger = AttainmentLedger()
    credit = ledger.won("ev-1", "opp-1", "acc-1", ProductType.MORTGAGE, 2_000_000_000, date(2026, 8, 3), (RM_A, TEAM, HN01))
    assert credit is not None and credit.measure is Measure.LOAN_DISBURSED
    assert ledger.won("ev-1", "opp-1", "acc-1", ProductType.MORTGAGE, 2_000_000_000, date(2026, 8, 3), (RM_A, TEAM, HN01)) is None
    assert ledger.won("ev-1b", "opp-1", "acc-1", ProductType.MORTGAGE, 2_000_000_000, date(2026, 8, 3), (RM_A,)) is None  # already counted
    assert [ledger.actual(s, Measure.LOAN_DISBURSED, Q3) for s in (RM_A, TEAM, HN01)] == [2_000_000_000] * 3
    assert ledger.actual(RM_A, Measure.LOAN_DISBURSED, AUGUST) == 2_000_000_000
    reversal = ledger.reopened("ev-2", "opp-1")
    assert reversal is not None and reversal.amount == -2_000_000_000 and reversal.month == "2026-08"
    assert ledger.reopened("ev-2", "opp-1") is None and ledger.reopened("ev-3", "opp-1") is None
    assert ledger.actual(RM_A, Measure.LOAN_DISBURSED, Q3) == 0
    ledger.won("ev-4", "opp-1", "acc-1", ProductType.MORTGAGE, 1_800_000_000, date(2026, 9, 10), (RM_A,))
    assert ledger.actual(RM_A, Measure.LOAN_DISBURSED, Q3) == 1_800_000_000


def test_cards_count_one_each_and_holdings_from_won_deals_are_not_counted_twice() -> None:
    ledger = AttainmentLedger()
    ledger.won("ev-1", "opp-1", "acc-1", ProductType.CREDIT_CARD, 50_000_000, date(2026, 7, 1), (RM_A,))
    assert (
        ledger.holding_opened("ev-2", "h-1", "acc-1", ProductType.CREDIT_CARD, 50_000_000, date(2026, 7, 2), (RM_A,), from_opportunity=True) is None
    )
    ledger.holding_opened("ev-3", "h-2", "acc-2", ProductType.CREDIT_CARD, 30_000_000, date(2026, 7, 5), (RM_A,), from_opportunity=False)
    assert ledger.actual(RM_A, Measure.NEW_CARDS, Q3) == 2
    ledger.holding_opened("ev-4", "h-3", "acc-2", ProductType.TERM_DEPOSIT, 500_000_000, date(2026, 7, 6), (RM_A,), from_opportunity=False)
    assert ledger.actual(RM_A, Measure.DEPOSIT_GROWTH, Q3) == 500_000_000
    closed = ledger.holding_closed("ev-5", "h-3")
    assert closed is not None and closed.amount == -500_000_000
    assert ledger.holding_closed("ev-5", "h-3") is None
    assert ledger.actual(RM_A, Measure.DEPOSIT_GROWTH, Q3) == 0
    assert ledger.holding_closed("ev-6", "h-1") is None  # never credited: nothing to take back


def test_deals_on_moved_accounts_count_by_the_plans_policy() -> None:
    moved = date(2026, 8, 16)
    assert attribution(MovePolicy.PRO_RATE, Q3, moved, date(2026, 8, 15), (RM_A,), (RM_B,)) == (RM_A,)
    assert attribution(MovePolicy.PRO_RATE, Q3, moved, date(2026, 8, 16), (RM_A,), (RM_B,)) == (RM_B,)
    assert attribution(MovePolicy.KEEP, Q3, moved, date(2026, 9, 30), (RM_A,), (RM_B,)) == (RM_A,)
    assert attribution(MovePolicy.KEEP, Q3, moved, date(2026, 10, 1), (RM_A,), (RM_B,)) == (RM_B,)


def test_pacing_is_linear_by_days_with_the_as_of_day_elapsed() -> None:
    halfway = pacing(target=9_200_000_000, actual=4_000_000_000, period=Q3, as_of=date(2026, 8, 15))
    assert (halfway.days_elapsed, halfway.days_in_period) == (46, 92)
    assert halfway.expected == 4_600_000_000 and halfway.gap == -600_000_000
    assert halfway.pace_bp == 8695  # 86.95 %, rounded down
    assert halfway.projected == 8_000_000_000
    before = pacing(100, 0, Q3, date(2026, 6, 30))
    assert (before.expected, before.pace_bp, before.projected) == (0, None, 0)
    assert pacing(100, 120, Q3, date(2026, 12, 31)).expected == 100


def test_coverage_is_weighted_pipeline_over_remaining_quota() -> None:
    assert coverage(weighted_pipeline=6_000_000_000, target=5_000_000_000, actual=3_000_000_000).coverage_bp == 30_000
    met = coverage(weighted_pipeline=1, target=5, actual=7)
    assert (met.remaining, met.coverage_bp) == (0, None)


def test_leaderboard_ranks_by_attainment_with_shared_ranks_and_no_target_last() -> None:
    standings = [
        Standing(Scope(ScopeKind.RM, "rm-d"), 0, 900),
        Standing(Scope(ScopeKind.RM, "rm-c"), 100, 80),
        Standing(Scope(ScopeKind.RM, "rm-b"), 200, 160),
        Standing(Scope(ScopeKind.RM, "rm-a"), 100, 120),
        Standing(Scope(ScopeKind.RM, "rm-e"), 50, 20),
    ]
    board = leaderboard(standings)
    assert [(e.rank, e.standing.scope.id, e.standing.attainment_bp) for e in board] == [
        (1, "rm-a", 12000),
        (2, "rm-b", 8000),
        (3, "rm-c", 8000),  # same attainment, smaller actual: next rank
        (4, "rm-e", 4000),
        (5, "rm-d", None),
    ]
    tied = leaderboard(
        [Standing(Scope(ScopeKind.RM, "x"), 10, 5), Standing(Scope(ScopeKind.RM, "y"), 10, 5), Standing(Scope(ScopeKind.RM, "z"), 10, 1)]
    )
    assert [e.rank for e in tied] == [1, 1, 3]
    assert len(leaderboard(standings, limit=2)) == 2
    assert months_of(Q3) == ["2026-07", "2026-08", "2026-09"]
