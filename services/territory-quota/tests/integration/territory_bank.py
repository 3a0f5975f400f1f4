"""A small bank for the territory API tests: its model version (hierarchy and rules), its teams,
and helpers to call the API with the right roles."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import grpc
import pytest

from crm.common.v1 import common_pb2
from crm.territory.v1 import territory_pb2 as t
from crm.territory.v1 import territory_service_pb2 as pb
from crm.territory.v1.territory_service_pb2_grpc import TerritoryServiceStub
from crm_common.db import new_id
from crm_common.testing import bearer

OPS = bearer("ops-1", ["sales_ops"])
MANAGER = bearer("mgr-1", ["sales_manager"])
RM = bearer("rm-a", ["rm"])
WEB = bearer("service:web", ["web_capture"])
SERVICE = bearer("service:lead", ["service"])


def today() -> date:
    return datetime.now(UTC).date()


def day(value: date) -> common_pb2.Date:
    return common_pb2.Date(year=value.year, month=value.month, day=value.day)


def node(code: str, parent: str, level: int, **fields: Any) -> t.TerritoryNodeInput:
    return t.TerritoryNodeInput(code=code, parent_code=parent, name=fields.pop("name", code.title()), level=level, **fields)


NODES = [
    node("VN", "", t.TERRITORY_LEVEL_BANK),
    node("NORTH", "VN", t.TERRITORY_LEVEL_REGION),
    node("SOUTH", "VN", t.TERRITORY_LEVEL_REGION),
    node("HN", "NORTH", t.TERRITORY_LEVEL_PROVINCE, province_code="01"),
    node("HN01", "HN", t.TERRITORY_LEVEL_BRANCH, branch_id="B-HN01"),
    node("HNAFF", "HN", t.TERRITORY_LEVEL_PROVINCE, wealth_tier=t.WEALTH_TIER_AFFLUENT),
    node("HCM", "SOUTH", t.TERRITORY_LEVEL_PROVINCE, province_code="79"),
    node("HCM01", "HCM", t.TERRITORY_LEVEL_BRANCH, branch_id="B-HCM01"),
]


def rule(rule_id: str, priority: int, territory_id: str, team_id: str = "", **conditions: Any) -> t.AssignmentRule:
    strategy = conditions.pop("strategy", t.OWNER_STRATEGY_ROUND_ROBIN)
    owner_id = conditions.pop("owner_id", "")
    return t.AssignmentRule(
        rule_id=rule_id,
        name=rule_id,
        priority=priority,
        territory_id=territory_id,
        strategy=strategy,
        owner_id=owner_id,
        team_id=team_id,
        conditions=t.RuleConditions(**conditions),
    )


RULES = [
    rule("R-AFF", 10, "VN.NORTH.HN.HNAFF", "T-HNAFF", province_codes=["01"], tiers=[t.WEALTH_TIER_AFFLUENT]),
    rule("R-HN", 20, "VN.NORTH.HN.HN01", "T-HN01", province_codes=["01"]),
    rule("R-HCM", 20, "VN.SOUTH.HCM.HCM01", "T-HCM01", province_codes=["79"], strategy=t.OWNER_STRATEGY_LEAST_LOADED),
]


def member(subject: str, role: int = t.MEMBER_ROLE_RM, **fields: Any) -> t.Member:
    return t.Member(subject_id=subject, role=role, active=fields.pop("active", True), **fields)


TEAMS = [
    (
        t.Team(team_id="T-HN01", territory_id="VN.NORTH.HN.HN01", name="Hoàn Kiếm"),
        [member("rm-a"), member("rm-b"), member("bm-hn", t.MEMBER_ROLE_BRANCH_MANAGER)],
    ),
    (t.Team(team_id="T-HNAFF", territory_id="VN.NORTH.HN.HNAFF", name="Hà Nội affluent"), [member("rm-p")]),
    (t.Team(team_id="T-HCM01", territory_id="VN.SOUTH.HCM.HCM01", name="Quận 1"), [member("rm-s"), member("rm-t")]),
    (t.Team(team_id="T-NORTH", territory_id="VN.NORTH", name="North heads"), [member("head-n", t.MEMBER_ROLE_REGIONAL_HEAD)]),
]


def plan(
    stub: TerritoryServiceStub, nodes: list[t.TerritoryNodeInput] = NODES, rules: list[t.AssignmentRule] = RULES, **fields: Any
) -> pb.PlanModelVersionResponse:
    fields.setdefault("effective_date", day(today()))
    reply: pb.PlanModelVersionResponse = stub.PlanModelVersion(
        pb.PlanModelVersionRequest(request_id=new_id(), nodes=nodes, rules=rules, **fields), metadata=OPS, timeout=30
    )
    return reply


def apply(stub: TerritoryServiceStub, version: int) -> pb.ApplyModelVersionResponse:
    reply: pb.ApplyModelVersionResponse = stub.ApplyModelVersion(
        pb.ApplyModelVersionRequest(request_id=new_id(), version=version), metadata=OPS, timeout=60
    )
    return reply


def put_teams(stub: TerritoryServiceStub) -> None:
    for team, members in TEAMS:
        stub.PutTeam(pb.PutTeamRequest(request_id=new_id(), team=team, members=members), metadata=OPS, timeout=10)


def set_up_bank(stub: TerritoryServiceStub) -> int:
    """A new bank: its hierarchy planned (version 1), its teams, then the same hierarchy with
    the rules (version 2) applied today; version 1 is cancelled. Returns 2."""
    first = plan(stub, rules=[])
    put_teams(stub)
    second = plan(stub)
    apply(stub, second.version.version)
    stub.CancelModelVersion(pb.CancelModelVersionRequest(request_id=new_id(), version=first.version.version), metadata=OPS, timeout=10)
    return second.version.version


def account(account_id: str, province: str = "01", **fields: Any) -> t.SubjectAttributes:
    return t.SubjectAttributes(kind=t.SUBJECT_KIND_ACCOUNT, subject_id=account_id, province_code=province, **fields)


def rpc_error(call: Callable[..., object], *args: Any, **kwargs: Any) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        call(*args, **kwargs)
    return caught.value
