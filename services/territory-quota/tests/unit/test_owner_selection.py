"""Owner strategies: named, round robin with a persisted cursor, least loaded, skill/language match."""

from __future__ import annotations

from dataclasses import replace

from crm_common.products import ProductType
from crm_territory.domain.members import Member, Role
from crm_territory.domain.owner_selection import OwnerSelector
from crm_territory.domain.rules import OwnerStrategy, Rule, Subject, SubjectKind

LEAD = Subject(SubjectKind.LEAD, "lead-1")


def rule(strategy: OwnerStrategy, owner_id: str = "", team_id: str = "T-HN01") -> Rule:
    return Rule("R", 1, "VN.NORTH.HN.HN01", strategy, owner_id=owner_id, team_id=team_id)


def test_named_rm_and_the_fallback_when_they_cannot_take_it(members: list[Member]) -> None:
    selector = OwnerSelector(members, loads={"rm-a": 9, "rm-b": 3, "rm-c": 3})
    assert selector.select(rule(OwnerStrategy.NAMED_RM, "rm-a"), LEAD).reason == "named by rule R"
    left = OwnerSelector([replace(m, active=False) if m.subject_id == "rm-a" else m for m in members], loads={"rm-b": 3, "rm-c": 3})
    fallback = left.select(rule(OwnerStrategy.NAMED_RM, "rm-a"), LEAD)
    assert (fallback.owner_id, fallback.reason) == (
        "rm-b",
        "named RM rm-a cannot take assignments; least loaded in team T-HN01: 3 open (next rm-c: 3)",
    )
    nobody = left.select(rule(OwnerStrategy.NAMED_RM, "rm-a", team_id=""), LEAD)
    assert nobody.owner_id == "" and "the rule has no team" in nobody.reason


def test_round_robin_continues_from_the_persisted_cursor_and_wraps(members: list[Member]) -> None:
    selector = OwnerSelector(members, cursors={"T-HN01": "rm-b"})
    chosen = [selector.select(rule(OwnerStrategy.ROUND_ROBIN), LEAD).owner_id for _ in range(4)]
    assert chosen == ["rm-c", "rm-a", "rm-b", "rm-c"]
    assert selector.cursors == {"T-HN01": "rm-c"}
    # The cursor survives members leaving: the next one after it in id order takes the turn.
    without_a = OwnerSelector([m for m in members if m.subject_id != "rm-a"], cursors=selector.cursors)
    assert without_a.select(rule(OwnerStrategy.ROUND_ROBIN), LEAD).owner_id == "rm-b"
    # Managers never take assignments by rule.
    assert "bm-hn" not in chosen


def test_least_loaded_breaks_ties_by_id_and_counts_each_assignment(members: list[Member]) -> None:
    selector = OwnerSelector(members, loads={"rm-a": 5, "rm-b": 4, "rm-c": 4})
    chosen = [selector.select(rule(OwnerStrategy.LEAST_LOADED), LEAD).owner_id for _ in range(4)]
    assert chosen == ["rm-b", "rm-c", "rm-a", "rm-b"]
    assert selector.loads == {"rm-a": 6, "rm-b": 6, "rm-c": 5}


def test_capacity_is_respected_and_a_full_team_leaves_the_subject_unowned(members: list[Member]) -> None:
    capped = [replace(m, capacity=2) if m.team_id == "T-HN01" else m for m in members]
    selector = OwnerSelector(capped, loads={"rm-a": 2, "rm-b": 1, "rm-c": 2})
    assert selector.select(rule(OwnerStrategy.LEAST_LOADED), LEAD).owner_id == "rm-b"
    full = selector.select(rule(OwnerStrategy.ROUND_ROBIN), LEAD)
    assert (full.owner_id, full.team_id, full.reason) == ("", "T-HN01", "team T-HN01: every RM is at capacity")
    empty = OwnerSelector([]).select(rule(OwnerStrategy.LEAST_LOADED, team_id="T-X"), LEAD)
    assert empty.reason == "team T-X: no active RM"


def test_skill_match_prefers_language_then_product_skills_then_load() -> None:
    team = [
        Member("rm-1", "VN", Role.RM, team_id="T", languages=frozenset({"vi"}), skills=frozenset({ProductType.MORTGAGE, ProductType.CREDIT_CARD})),
        Member("rm-2", "VN", Role.RM, team_id="T", languages=frozenset({"vi", "zh"}), skills=frozenset({ProductType.CREDIT_CARD})),
        Member("rm-3", "VN", Role.RM, team_id="T", languages=frozenset({"vi", "zh"}), skills=frozenset({ProductType.CREDIT_CARD})),
    ]
    selector = OwnerSelector(team, loads={"rm-2": 7, "rm-3": 2})
    chinese = Subject(SubjectKind.LEAD, "l", products=frozenset({ProductType.MORTGAGE, ProductType.CREDIT_CARD}), language="zh")
    choice = selector.select(rule(OwnerStrategy.SKILL_MATCH, team_id="T"), chinese)
    assert (choice.owner_id, choice.reason) == ("rm-3", "speaks zh and skilled in CREDIT_CARD; 2 open")
    vietnamese = replace(chinese, language="vi")
    assert selector.select(rule(OwnerStrategy.SKILL_MATCH, team_id="T"), vietnamese).owner_id == "rm-1"
    nothing = Subject(SubjectKind.LEAD, "l", products=frozenset({ProductType.CASA}), language="fr")
    fallback = selector.select(rule(OwnerStrategy.SKILL_MATCH, team_id="T"), nothing)
    assert fallback.owner_id == "rm-1" and fallback.reason.startswith("no one in team T matches language or products")
