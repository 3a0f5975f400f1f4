"""A small bank shared by the territory domain tests: two regions, two provinces, three branches,
their teams and RMs."""

from __future__ import annotations

import pytest

from crm_territory.domain.hierarchy import Dimensions, Hierarchy, Level, NodeSpec, WealthTier
from crm_territory.domain.members import Member, Role, Team


@pytest.fixture
def hierarchy() -> Hierarchy:
    return Hierarchy.build(
        [
            NodeSpec("VN", "", "Bank", Level.BANK),
            NodeSpec("NORTH", "VN", "North", Level.REGION),
            NodeSpec("SOUTH", "VN", "South", Level.REGION),
            NodeSpec("HN", "NORTH", "Hà Nội", Level.PROVINCE, province_code="01"),
            NodeSpec("HN01", "HN", "Hoàn Kiếm", Level.BRANCH, branch_id="B-HN01"),
            NodeSpec("HNAFF", "HN", "Hà Nội affluent", Level.PROVINCE, dimensions=Dimensions(wealth_tier=WealthTier.AFFLUENT)),
            NodeSpec("HCM", "SOUTH", "Hồ Chí Minh", Level.PROVINCE, province_code="79"),
            NodeSpec("HCM01", "HCM", "Quận 1", Level.BRANCH, branch_id="B-HCM01"),
        ]
    )


@pytest.fixture
def teams() -> list[Team]:
    return [
        Team("T-HN01", "VN.NORTH.HN.HN01", "Hoàn Kiếm RMs"),
        Team("T-HNAFF", "VN.NORTH.HN.HNAFF", "Hà Nội affluent RMs"),
        Team("T-HCM01", "VN.SOUTH.HCM.HCM01", "Quận 1 RMs"),
    ]


@pytest.fixture
def members() -> list[Member]:
    return [
        Member("rm-a", "VN.NORTH.HN.HN01", Role.RM, team_id="T-HN01", languages=frozenset({"vi"})),
        Member("rm-b", "VN.NORTH.HN.HN01", Role.RM, team_id="T-HN01", languages=frozenset({"vi", "en"})),
        Member("rm-c", "VN.NORTH.HN.HN01", Role.RM, team_id="T-HN01", languages=frozenset({"vi"})),
        Member("rm-p", "VN.NORTH.HN.HNAFF", Role.RM, team_id="T-HNAFF"),
        Member("rm-s", "VN.SOUTH.HCM.HCM01", Role.RM, team_id="T-HCM01"),
        Member("bm-hn", "VN.NORTH.HN.HN01", Role.BRANCH_MANAGER),
    ]
