"""The territory hierarchy: paths, prefix semantics, cycles and the other refusals, access scopes."""

from __future__ import annotations

import pytest

from crm_common.errors import InvalidArgument, NotFound
from crm_territory.domain.hierarchy import Dimensions, Hierarchy, Level, NodeSpec, WealthTier, ancestors_of, includes, minimal_cover
from crm_territory.domain.members import Member, Role, Team, access_scope


def nodes() -> list[NodeSpec]:
    return [
        NodeSpec("VN", "", "Bank", Level.BANK),
        NodeSpec("NORTH", "VN", "North", Level.REGION),
        NodeSpec("SOUTH", "VN", "South", Level.REGION),
        NodeSpec("HN", "NORTH", "Hà Nội", Level.PROVINCE, province_code="01"),
        NodeSpec("HN01", "HN", "Hoàn Kiếm branch", Level.BRANCH, branch_id="B-HN01"),
        NodeSpec("HN02", "HN", "Cầu Giấy branch", Level.BRANCH, branch_id="B-HN02"),
        NodeSpec("HNAFF", "HN", "Hà Nội affluent", Level.PROVINCE, dimensions=Dimensions(wealth_tier=WealthTier.AFFLUENT)),
        NodeSpec("HCM", "SOUTH", "Hồ Chí Minh", Level.PROVINCE, province_code="79"),
        NodeSpec("HCM01", "HCM", "Quận 1 branch", Level.BRANCH, branch_id="B-HCM01"),
    ]


def violations(error: InvalidArgument) -> dict[str, str]:
    return {v.field: v.description for v in error.violations}


def test_ids_are_materialized_paths_and_attributes_are_inherited() -> None:
    tree = Hierarchy.build(nodes())
    branch = tree.get("VN.NORTH.HN.HN01")
    assert (branch.code, branch.parent_id, branch.province_code, branch.branch_id) == ("HN01", "VN.NORTH.HN", "01", "B-HN01")
    affluent = tree.get("VN.NORTH.HN.HNAFF")
    assert affluent.dimensions.wealth_tier is WealthTier.AFFLUENT and affluent.province_code == "01"
    assert tree.root is not None and tree.root.territory_id == "VN"
    assert len(tree) == 9


def test_a_territory_includes_its_descendants_by_prefix_only_at_segment_boundaries() -> None:
    tree = Hierarchy.build(nodes())
    assert tree.descendant_ids("VN.NORTH") == ["VN.NORTH", "VN.NORTH.HN", "VN.NORTH.HN.HN01", "VN.NORTH.HN.HN02", "VN.NORTH.HN.HNAFF"]
    assert tree.descendant_ids("VN.NORTH.HN.HN01", include_self=False) == []
    assert [t.code for t in tree.children("VN.NORTH.HN")] == ["HN01", "HN02", "HNAFF"]
    assert includes("VN.NORTH", "VN.NORTH.HN.HN01")
    assert not includes("VN.NORTH.HN.HN0", "VN.NORTH.HN.HN01")  # a string prefix is not a path prefix
    assert ancestors_of("VN.NORTH.HN.HN01") == ["VN", "VN.NORTH", "VN.NORTH.HN"]
    assert minimal_cover(["VN.NORTH.HN.HN01", "VN.NORTH", "VN.SOUTH.HCM", "VN.NORTH.HN"]) == ["VN.NORTH", "VN.SOUTH.HCM"]
    with pytest.raises(NotFound):
        tree.descendant_ids("VN.EAST")


def test_a_cycle_is_refused_and_named() -> None:
    specs = [
        *nodes(),
        NodeSpec("A", "C", "a", Level.REGION),
        NodeSpec("B", "A", "b", Level.REGION),
        NodeSpec("C", "B", "c", Level.REGION),
    ]
    with pytest.raises(InvalidArgument) as caught:
        Hierarchy.build(specs)
    assert violations(caught.value) == {"nodes[9].parent_code": "cycle: A → C → B → A"}


def test_a_node_that_is_its_own_parent_is_a_cycle() -> None:
    with pytest.raises(InvalidArgument) as caught:
        Hierarchy.build([*nodes(), NodeSpec("SELF", "SELF", "self", Level.REGION)])
    assert violations(caught.value) == {"nodes[9].parent_code": "cycle: SELF → SELF"}


def test_every_structural_violation_is_listed_at_once() -> None:
    specs = [
        NodeSpec("VN", "", "Bank", Level.BANK),
        NodeSpec("VN2", "", "Other bank", Level.BANK),
        NodeSpec("X", "NOPE", "orphan", Level.REGION),
        NodeSpec("bad code", "VN", "x", Level.REGION),
        NodeSpec("VN", "VN", "dup", Level.REGION),
        NodeSpec("ZZ", "VN", "", Level.PROVINCE, province_code="99"),
    ]
    with pytest.raises(InvalidArgument) as caught:
        Hierarchy.build(specs)
    found = violations(caught.value)
    assert found["nodes"].startswith("exactly one root")
    assert found["nodes[2].parent_code"] == "unknown code 'NOPE'"
    assert "nodes[3].code" in found
    assert found["nodes[4].code"] == "duplicate of nodes[0]"
    assert found["nodes[5].name"] == "required"
    assert found["nodes[5].province_code"] == "'99' is not a GSO province code"


def test_levels_geography_and_dimensions_are_checked_against_the_parent() -> None:
    specs = [
        *nodes(),
        NodeSpec("UP", "HN", "region under a province", Level.REGION),
        NodeSpec("SAME", "HN", "province under a province without narrowing", Level.PROVINCE),
        NodeSpec("ELSEWHERE", "HN", "branch in another province", Level.BRANCH, province_code="79", branch_id="B-X"),
        NodeSpec("NOBRANCH", "HN", "branch without id", Level.BRANCH),
        NodeSpec("MASS", "HNAFF", "contradicts affluent", Level.BRANCH, branch_id="B-Y", dimensions=Dimensions(wealth_tier=WealthTier.MASS)),
        NodeSpec("NOPROV", "NORTH", "province without code", Level.PROVINCE),
    ]
    with pytest.raises(InvalidArgument) as caught:
        Hierarchy.build(specs)
    found = violations(caught.value)
    assert found["nodes[9].level"] == "REGION cannot sit under PROVINCE VN.NORTH.HN"
    assert found["nodes[10].level"] == "a child at its parent's level (PROVINCE) must narrow a dimension"
    assert found["nodes[11].province_code"] == "the parent is in province 01"
    assert found["nodes[12].branch_id"] == "required at level BRANCH"
    assert found["nodes[13].wealth_tier"] == "the parent VN.NORTH.HN.HNAFF is AFFLUENT"
    assert found["nodes[14].province_code"] == "required at level PROVINCE"


def test_25000_territories_build_and_answer_descendants() -> None:
    specs = [NodeSpec("VN", "", "Bank", Level.BANK)]
    for r in range(25):
        specs.append(NodeSpec(f"R{r}", "VN", f"region {r}", Level.REGION))
        for b in range(1000):
            specs.append(NodeSpec(f"R{r}B{b}", f"R{r}", f"branch {b}", Level.BRANCH, province_code="01", branch_id=f"{r}-{b}"))
    tree = Hierarchy.build(specs)
    assert len(tree) == 25_026
    assert len(tree.descendant_ids("VN.R7")) == 1001


def test_diff_reports_added_removed_moved_and_changed_by_code() -> None:
    old = Hierarchy.build(nodes())
    new_specs = [n for n in nodes() if n.code != "HN02"]
    new_specs = [NodeSpec("HCM01", "HCM", "Quận 1 (renamed)", Level.BRANCH, branch_id="B-HCM01") if n.code == "HCM01" else n for n in new_specs]
    new_specs = [
        NodeSpec("HNAFF", "NORTH", "North affluent", Level.REGION, dimensions=Dimensions(wealth_tier=WealthTier.AFFLUENT)) if n.code == "HNAFF" else n
        for n in new_specs
    ]
    new_specs.append(NodeSpec("HN03", "HN", "Đống Đa branch", Level.BRANCH, branch_id="B-HN03"))
    changes = old.diff(Hierarchy.build(new_specs))
    assert changes.added == ["VN.NORTH.HN.HN03"]
    assert changes.removed == ["VN.NORTH.HN.HN02"]
    assert changes.moved == [("HNAFF", "VN.NORTH.HN.HNAFF", "VN.NORTH.HNAFF")]
    assert changes.changed == ["VN.SOUTH.HCM.HCM01"]
    assert old.diff(Hierarchy.build(nodes())).empty


def test_access_scope_is_minimal_with_teams_and_branches_below() -> None:
    tree = Hierarchy.build(nodes())
    teams = [
        Team("T-HN01", "VN.NORTH.HN.HN01", "HN01 RMs"),
        Team("T-HCM01", "VN.SOUTH.HCM.HCM01", "Q1 RMs"),
        Team("T-AFF", "VN.NORTH.HN.HNAFF", "aff"),
    ]
    members = [
        Member("head-n", "VN.NORTH", Role.REGIONAL_HEAD),
        Member("head-n", "VN.NORTH.HN.HN01", Role.RM, team_id="T-HN01"),
        Member("rm-1", "VN.NORTH.HN.HN01", Role.RM, team_id="T-HN01"),
        Member("rm-1", "VN.SOUTH.HCM.HCM01", Role.RM, team_id="T-HCM01", active=False),
    ]
    head = access_scope("head-n", members, teams, tree)
    assert head.territories == [("VN.NORTH", Role.REGIONAL_HEAD)]
    assert head.team_ids == ["T-AFF", "T-HN01"]
    assert head.branch_ids == ["B-HN01", "B-HN02"]
    assert head.can_see("VN.NORTH.HN.HNAFF") and not head.can_see("VN.SOUTH")
    rm = access_scope("rm-1", members, teams, tree)
    assert (rm.territories, rm.team_ids, rm.branch_ids) == ([("VN.NORTH.HN.HN01", Role.RM)], ["T-HN01"], ["B-HN01"])
    assert access_scope("nobody", members, teams, tree).territories == []
