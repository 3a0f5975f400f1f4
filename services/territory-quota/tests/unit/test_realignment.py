"""Realignment: moves per RM and territory, owners kept where they can stay, overrides, RM departure."""

from __future__ import annotations

from crm_territory.domain.members import Member
from crm_territory.domain.owner_selection import OwnerSelector
from crm_territory.domain.realignment import AccountState, Assignment, MoveCounts, depart, diff, realign
from crm_territory.domain.rules import Conditions, OwnerStrategy, Rule, RuleSet, Subject, SubjectKind

HN01 = "VN.NORTH.HN.HN01"
HCM01 = "VN.SOUTH.HCM.HCM01"


def account(account_id: str, province: str, current: Assignment | None, opportunities: int = 0) -> AccountState:
    return AccountState(Subject(SubjectKind.ACCOUNT, account_id, province_code=province), current, opportunities)


def by_province(team_hn: str = "T-HN01") -> RuleSet:
    return RuleSet(
        [
            Rule("R-HN", 1, HN01, OwnerStrategy.LEAST_LOADED, Conditions(province_codes=frozenset({"01"})), team_id=team_hn),
            Rule("R-HCM", 1, HCM01, OwnerStrategy.LEAST_LOADED, Conditions(province_codes=frozenset({"79", "75"})), team_id="T-HCM01"),
        ]
    )


def test_moves_are_counted_per_territory_and_per_owner_with_open_opportunities(members: list[Member]) -> None:
    accounts = [
        account("a1", "01", Assignment(HN01, "rm-a", "T-HN01"), opportunities=2),  # stays, keeps rm-a
        account("a2", "75", Assignment(HN01, "rm-b", "T-HN01"), opportunities=3),  # Đồng Nai moves south
        account("a3", "01", None, opportunities=1),  # first assignment
        account("a4", "48", Assignment(HN01, "rm-c", "T-HN01")),  # no rule: stays, counted unassigned
        account("a5", "79", Assignment(HN01, "rm-a", "T-HN01", override=True), opportunities=4),  # override kept
    ]
    selector = OwnerSelector(members, loads={"rm-a": 1, "rm-b": 1, "rm-c": 1})
    result = realign(accounts, by_province(), selector)
    assert (result.accounts_evaluated, result.accounts_moved, result.opportunities_moved) == (5, 2, 4)
    assert (result.accounts_unassigned, result.overrides_kept) == (1, 1)
    assert [(m.account_id, m.after.territory_id, m.after.owner_id) for m in result.moves] == [("a2", HCM01, "rm-s"), ("a3", HN01, "rm-b")]
    assert result.by_territory == {HCM01: MoveCounts(1, 0, 3, 0), HN01: MoveCounts(1, 1, 1, 3)}
    assert result.by_owner == {"rm-s": MoveCounts(1, 0, 3, 0), "rm-b": MoveCounts(1, 1, 1, 3)}
    # a2 leaving freed rm-b, who then was the least loaded for a3: the loads followed each move.
    assert selector.loads == {"rm-a": 1, "rm-b": 1, "rm-c": 1, "rm-s": 1}


def test_an_unchanged_territory_keeps_its_owner_unless_a_rule_names_another(members: list[Member]) -> None:
    current = Assignment(HN01, "rm-c", "T-HN01", "R-OLD")
    selector = OwnerSelector(members, loads={"rm-a": 0, "rm-c": 50})
    kept = realign([account("a1", "01", current)], by_province(), selector)
    assert kept.accounts_moved == 0
    named = RuleSet([Rule("R-NAMED", 1, HN01, OwnerStrategy.NAMED_RM, owner_id="rm-a")])
    moved = realign([account("a1", "01", current)], named, OwnerSelector(members))
    assert [(m.before, m.after.owner_id) for m in moved.moves] == [(current, "rm-a")]


def test_an_rm_leaving_moves_only_their_book_by_the_rules_overrides_included(members: list[Member]) -> None:
    book = [
        account("a1", "01", Assignment(HN01, "rm-a", "T-HN01"), opportunities=1),
        account("a2", "01", Assignment(HN01, "rm-a", "T-HN01", override=True)),
        account("a3", "01", Assignment(HN01, "rm-b", "T-HN01"), opportunities=5),
    ]
    result, selector = depart("rm-a", book, by_province(), members, loads={"rm-a": 2, "rm-b": 1, "rm-c": 0})
    assert [(m.account_id, m.after.owner_id) for m in result.moves] == [("a1", "rm-c"), ("a2", "rm-b")]
    assert result.by_owner["rm-a"] == MoveCounts(0, 2, 0, 1)
    assert HN01 not in result.by_territory  # same territory, new owners
    assert not selector.can_own("rm-a", "T-HN01")


def test_diff_of_two_assignment_maps() -> None:
    before = {"a1": Assignment(HN01, "rm-a"), "a2": Assignment(HN01, "rm-b")}
    after = {"a1": Assignment(HN01, "rm-a"), "a2": Assignment(HCM01, "rm-s"), "a3": Assignment(HCM01, "rm-s")}
    result = diff(before, after, {"a2": 2, "a3": 1})
    assert (result.accounts_evaluated, result.accounts_moved, result.opportunities_moved) == (3, 2, 3)
    assert result.by_territory == {HCM01: MoveCounts(2, 0, 3, 0), HN01: MoveCounts(0, 1, 0, 2)}
