"""Quota plans: periods, seeding and its rounding, exact allocation, differences, maker-checker,
versions and quota following account moves."""

from __future__ import annotations

import random
from datetime import date

import pytest

from crm_common.errors import FailedPrecondition, InvalidArgument, PermissionDenied
from crm_territory.domain.quotas import (
    Measure,
    MovePolicy,
    Period,
    PeriodKind,
    PlanStatus,
    QuotaPlan,
    Scope,
    ScopeKind,
    allocate,
    prorate,
    round_half_away,
    seed,
    seed_plan,
)

NORTH = Scope(ScopeKind.TERRITORY, "VN.NORTH")
HN = Scope(ScopeKind.TERRITORY, "VN.NORTH.HN")
HP = Scope(ScopeKind.TERRITORY, "VN.NORTH.HP")
TEAM = Scope(ScopeKind.TEAM, "T-HN01")
RM_A, RM_B, RM_C = (Scope(ScopeKind.RM, rm) for rm in ("rm-a", "rm-b", "rm-c"))
Q3 = Period(PeriodKind.QUARTER, 2026, 3)


def plan(policy: MovePolicy = MovePolicy.PRO_RATE) -> QuotaPlan:
    tree = [(NORTH, None), (HN, NORTH), (HP, NORTH), (TEAM, HN), (RM_A, TEAM), (RM_B, TEAM), (RM_C, TEAM)]
    last_year = {
        NORTH: 10_000_000_001,
        HN: 7_000_000_000,
        HP: 3_000_000_001,
        TEAM: 7_000_000_000,
        RM_A: 3_500_000_000,
        RM_B: 2_500_000_000,
        RM_C: 1_000_000_000,
    }
    return seed_plan("plan-1", Q3, Measure.LOAN_DISBURSED, 1250, policy, tree, last_year)


def test_periods_parse_and_know_their_days() -> None:
    assert Period.parse("2026-Q3") == Q3 and str(Q3) == "2026-Q3"
    assert (Q3.start, Q3.end, Q3.days) == (date(2026, 7, 1), date(2026, 9, 30), 92)
    assert Period.parse("2028-02").days == 29 and Period.parse("2027").days == 365
    assert Q3.last_year() == Period(PeriodKind.QUARTER, 2025, 3)
    with pytest.raises(InvalidArgument):
        Period.parse("2026-13")
    with pytest.raises(InvalidArgument):
        Period(PeriodKind.QUARTER, 2026, 5)


def test_seeding_grows_last_year_in_integers_rounding_half_away_from_zero() -> None:
    assert seed(1_000_000_000, 1250) == 1_125_000_000
    assert seed(3, 5000) == 5  # 4.5 rounds up
    assert seed(7, -5000) == 4  # 3.5 rounds away from zero
    assert seed(9, 333) == 9  # 9.2997 rounds down
    assert seed(0, 2000) == 0 and seed(-5_000_000, 1000) == 0  # a fall seeds 0: set by hand
    assert round_half_away(-7, 2) == -4
    with pytest.raises(InvalidArgument):
        seed(100, -10_001)


def test_allocation_by_largest_remainder_sums_exactly_with_deterministic_ties() -> None:
    assert allocate(100, {"a": 1, "b": 1, "c": 1}) == {"a": 34, "b": 33, "c": 33}
    assert allocate(10, {"x": 0, "y": 0}) == {"x": 5, "y": 5}  # all zero: equal shares
    assert allocate(-10, {"a": 1, "b": 2}) == {"a": -3, "b": -7}
    assert allocate(7, {"a": 5, "b": 3, "c": 2}) == {"a": 4, "b": 2, "c": 1}  # 3.5, 2.1, 1.4: one left goes to a
    generator = random.Random(7)
    for _ in range(500):
        weights = {f"k{i}": generator.randint(0, 10**12) for i in range(generator.randint(1, 40))}
        total = generator.randint(0, 10**15)
        shares = allocate(total, weights)
        assert sum(shares.values()) == total
        weight_sum = sum(weights.values()) or len(weights)
        for key, share in shares.items():
            exact = total * (weights[key] if sum(weights.values()) else 1) / weight_sum
            assert abs(share - exact) < 1.000001
    with pytest.raises(InvalidArgument):
        allocate(10, {"a": -1, "b": 2})


def test_a_seeded_plan_adds_up_exactly_at_every_level() -> None:
    seeded = plan()
    assert seeded.line(NORTH).target == 11_250_000_001  # 10,000,000,001 × 1.125 = 11,250,000,001.125
    assert seeded.line(HN).target + seeded.line(HP).target == seeded.line(NORTH).target
    assert seeded.line(TEAM).target == seeded.line(HN).target
    assert sum(seeded.line(rm).target for rm in (RM_A, RM_B, RM_C)) == seeded.line(TEAM).target
    assert seeded.line(RM_C).seeded == 1_125_000_000
    assert seeded.differences() == []
    assert seeded.status is PlanStatus.DRAFT and seeded.version == 1


def test_manual_adjustments_show_the_difference_and_block_submission_unless_accepted() -> None:
    draft = plan()
    before = draft.line(RM_A).target
    draft.adjust(RM_A, before + 250_000_000, "new mortgage desk opening in August")
    [difference] = draft.differences()
    assert (difference.scope, difference.difference) == (TEAM, -250_000_000)
    with pytest.raises(FailedPrecondition, match=r"TEAM:T-HN01 is \d+, its children add up to \d+ \(-250000000\)"):
        draft.submit("maker-1")
    draft.submit("maker-1", accept_differences=True)
    assert draft.status is PlanStatus.SUBMITTED and draft.differences_accepted
    with pytest.raises(InvalidArgument):
        plan().adjust(RM_A, 1, " ")


def test_reallocating_a_parent_makes_its_children_add_up_again() -> None:
    draft = plan()
    draft.adjust(RM_A, 1, "mistake")
    draft.allocate_down(TEAM, total=9_000_000_001, weights={"rm-a": 1, "rm-b": 1, "rm-c": 1})
    assert [draft.line(rm).target for rm in (RM_A, RM_B, RM_C)] == [3_000_000_001, 3_000_000_000, 3_000_000_000]
    assert [d.scope for d in draft.differences()] == [HN]  # the team now differs from its territory: shown
    with pytest.raises(InvalidArgument) as caught:
        draft.allocate_down(TEAM, weights={"rm-a": 1, "rm-x": 1})
    assert {v.field for v in caught.value.violations} == {"weights[rm-x]", "weights[rm-b]", "weights[rm-c]"}


def test_maker_checker_approval_freezes_the_version_and_revisions_supersede_it() -> None:
    first = plan()
    first.submit("maker-1")
    with pytest.raises(PermissionDenied):
        first.approve("maker-1")
    first.reject("checker-1", "Hải Phòng is too low")
    assert (first.status, first.reject_reason) == (PlanStatus.REJECTED, "Hải Phòng is too low")
    first.adjust(HP, first.line(HP).target + 1, "raised")
    first.adjust(NORTH, first.line(NORTH).target + 1, "raised with Hải Phòng")
    first.submit("maker-1")
    first.approve("checker-1")
    assert first.status is PlanStatus.APPROVED
    with pytest.raises(FailedPrecondition):
        first.adjust(RM_A, 1, "too late")
    second = first.revise()
    assert (second.version, second.status, first.status) == (2, PlanStatus.DRAFT, PlanStatus.APPROVED)
    second.adjust(RM_B, 1, "reorg")
    assert first.line(RM_B).target != 1  # the revision is a copy
    second.submit("maker-2", accept_differences=True)
    second.approve("checker-1", previous=first)
    assert (first.status, second.status) == (PlanStatus.SUPERSEDED, PlanStatus.APPROVED)


def test_prorating_splits_by_days_and_sums_exactly() -> None:
    assert prorate(92_000, Q3, date(2026, 7, 1)) == (0, 92_000)
    assert prorate(92_000, Q3, date(2026, 8, 16)) == (46_000, 46_000)  # 46 of 92 days before the move
    before, after = prorate(1_000_000_001, Q3, date(2026, 9, 30))
    assert before + after == 1_000_000_001 and after == 1_000_000_001 - 1_000_000_001 * 91 // 92
    with pytest.raises(InvalidArgument):
        prorate(1, Q3, date(2026, 10, 1))


def test_quota_follows_moved_accounts_on_both_lines_when_pro_rated_and_stays_when_kept() -> None:
    approved = plan(MovePolicy.PRO_RATE)
    a_before, b_before = approved.line(RM_A).target, approved.line(RM_B).target
    transfer = approved.transfer_on_move(RM_A, RM_B, share=920_000_000, effective=date(2026, 8, 16), accounts=40)
    assert transfer is not None and transfer.amount == 460_000_000
    assert (approved.line(RM_A).target, approved.line(RM_B).target) == (a_before - 460_000_000, b_before + 460_000_000)
    assert approved.line(RM_A).transfers == approved.line(RM_B).transfers == [transfer]
    assert approved.differences() == []  # a move inside the team keeps the team whole
    kept = plan(MovePolicy.KEEP)
    assert kept.transfer_on_move(RM_A, RM_B, share=920_000_000, effective=date(2026, 8, 16), accounts=40) is None
    assert kept.line(RM_A).target == a_before
