"""A realignment moves an account and who may read it, in the running suite (real processes,
PostgreSQL and RabbitMQ): the account in RM A's territory is A's to read, not B's; a model version
whose rule moves it to B's territory is planned, previewed (the move counted for both RMs) and
applied through the TerritoryService API; once the account and opportunity services have
consumed AccountTerritoryAssigned, B reads the account and its open opportunity and A reads
neither (data scopes: an RM reaches its own book, NOT_FOUND outside it)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from crm.account.v1 import account_pb2
from crm.account.v1 import account_service_pb2 as account_svc
from crm.common.v1 import common_pb2
from crm.opportunity.v1 import opportunity_service_pb2 as opp_svc
from crm.territory.v1 import territory_pb2 as t
from crm.territory.v1 import territory_service_pb2 as pb
from crm_common.testing import bearer, wait_until
from crm_common.testing_e2e import Suite

OPS = bearer("ops-1", ["sales_ops"])
SERVICE = bearer("service:e2e", ["service"])
RM_A, RM_B = bearer("rm-a", ["rm"]), bearer("rm-b", ["rm"])
# The account's branch: the rules below place its customers by it, and no other test's.
BRANCH = "B-REALIGN-1"
TERRITORY_A, TERRITORY_B = "VN.SOUTH.HCM.HCMA", "VN.SOUTH.HCM.HCMB"
NODES = [
    t.TerritoryNodeInput(code="VN", name="Bank", level=t.TERRITORY_LEVEL_BANK),
    t.TerritoryNodeInput(code="SOUTH", parent_code="VN", name="South", level=t.TERRITORY_LEVEL_REGION),
    t.TerritoryNodeInput(code="HCM", parent_code="SOUTH", name="TP. Hồ Chí Minh", level=t.TERRITORY_LEVEL_PROVINCE, province_code="79"),
    t.TerritoryNodeInput(code="HCMA", parent_code="HCM", name="Quận 1", level=t.TERRITORY_LEVEL_BRANCH, branch_id=BRANCH),
    t.TerritoryNodeInput(code="HCMB", parent_code="HCM", name="Quận 3", level=t.TERRITORY_LEVEL_BRANCH, branch_id="B-REALIGN-2"),
]


def rid() -> str:
    return str(uuid.uuid4())


def day(value: date) -> common_pb2.Date:
    return common_pb2.Date(year=value.year, month=value.month, day=value.day)


def branch_rule(rule_id: str, territory_id: str, rm: str, team_id: str) -> t.AssignmentRule:
    return t.AssignmentRule(
        rule_id=rule_id, name=rule_id, priority=10, territory_id=territory_id, strategy=t.OWNER_STRATEGY_NAMED_RM, owner_id=rm,
        team_id=team_id, conditions=t.RuleConditions(branch_ids=[BRANCH]),
    )  # fmt: skip


def code_of(call: Callable[[], Any]) -> grpc.StatusCode | None:
    try:
        call()
    except grpc.RpcError as error:
        return error.code()  # type: ignore[no-any-return]
    return None


@pytest.fixture
def a_day_passes(suite: Suite) -> Iterator[Callable[[], None]]:
    """Moves every territory model version's date back one day: a version is applied from its
    date and the next one may only start after it, so one day holds one applied version. Also
    run before and after the test, so the suite's other tests find today free."""
    engine = create_engine(suite.specs["territory-quota"].database_url, poolclass=NullPool)

    def passes() -> None:
        with engine.begin() as conn:
            conn.execute(text("UPDATE model_versions SET effective_date = effective_date - 1"))

    passes()
    try:
        yield passes
    finally:
        passes()
        engine.dispose()


def test_a_realignment_moves_the_account_and_its_open_opportunity_to_the_new_rms_book(suite: Suite, a_day_passes: Callable[[], None]) -> None:
    territory = suite.stubs["territory-quota"]
    today = datetime.now(UTC).date()
    # The hierarchy first (teams sit in a territory of a planned version), then the teams, then
    # the rules naming them: RM A's branch customers are A's.
    territory.PlanModelVersion(pb.PlanModelVersionRequest(request_id=rid(), effective_date=day(today), nodes=NODES), metadata=OPS)
    for team_id, territory_id, rm in (("T-HCMA", TERRITORY_A, "rm-a"), ("T-HCMB", TERRITORY_B, "rm-b")):
        team = t.Team(team_id=team_id, territory_id=territory_id, name=team_id)
        member = t.Member(subject_id=rm, role=t.MEMBER_ROLE_RM, active=True)
        territory.PutTeam(pb.PutTeamRequest(request_id=rid(), team=team, members=[member]), metadata=OPS)
    in_a = territory.PlanModelVersion(
        pb.PlanModelVersionRequest(
            request_id=rid(), effective_date=day(today), nodes=NODES, rules=[branch_rule("R-HCMA", TERRITORY_A, "rm-a", "T-HCMA")]
        ),
        metadata=OPS,
    ).version.version
    territory.ApplyModelVersion(pb.ApplyModelVersionRequest(request_id=rid(), version=in_a), metadata=OPS, timeout=30)

    person = account_pb2.AccountInput(
        type=account_pb2.ACCOUNT_TYPE_PERSON, full_name="Nguyễn Thị Lan", phones=["0903 555 181"], branch_id=BRANCH,
        address=account_pb2.Address(province_code="79"),
    )  # fmt: skip
    account_id = suite.account.CreateAccount(account_svc.CreateAccountRequest(request_id=rid(), account=person), metadata=SERVICE).account.account_id

    def get_account(caller: list[tuple[str, str]]) -> account_pb2.Account:
        return suite.account.GetAccount(account_svc.GetAccountRequest(account_id=account_id), metadata=caller).account

    wait_until(lambda: get_account(SERVICE).owner_id == "rm-a", what="AccountCreated → AccountTerritoryAssigned → the account in rm-a's book")
    assert get_account(RM_A).territory_id == TERRITORY_A
    assert code_of(lambda: get_account(RM_B)) == grpc.StatusCode.NOT_FOUND

    close = Timestamp()
    close.FromDatetime(datetime.now(UTC) + timedelta(days=30))
    create = opp_svc.CreateOpportunityRequest(
        request_id=rid(), account_id=account_id, product=common_pb2.PRODUCT_TYPE_CREDIT_CARD, amount=common_pb2.Money(amount_minor=40_000_000),
        expected_close_time=close, owner_id="rm-a", team_id="T-HCMA", territory_id=TERRITORY_A,
    )  # fmt: skip
    opportunity_id = suite.opportunity.CreateOpportunity(create, metadata=RM_A).opportunity.opportunity_id

    def get_opportunity(caller: list[tuple[str, str]]) -> Any:
        return suite.opportunity.GetOpportunity(opp_svc.GetOpportunityRequest(opportunity_id=opportunity_id), metadata=caller).opportunity

    assert code_of(lambda: get_opportunity(RM_B)) == grpc.StatusCode.NOT_FOUND

    # The new rule set, planned for tomorrow (after the version in force) and previewed.
    to_b = territory.PlanModelVersion(
        pb.PlanModelVersionRequest(
            request_id=rid(), effective_date=day(today + timedelta(days=1)), nodes=NODES,
            rules=[branch_rule("R-HCMB", TERRITORY_B, "rm-b", "T-HCMB")],
        ),
        metadata=OPS,
    ).version.version  # fmt: skip

    def preview() -> t.RealignmentSummary:
        return territory.PreviewModelVersion(pb.PreviewModelVersionRequest(version=to_b), metadata=OPS, timeout=30).realignment

    def counts(entries: Any) -> dict[str, tuple[int, int, int, int]]:
        return {c.key: (c.accounts_in, c.accounts_out, c.opportunities_in, c.opportunities_out) for c in entries}

    # The open opportunity reaches the territory service by OpportunityCreated.
    wait_until(lambda: counts(preview().by_owner).get("rm-a", (0, 0, 0, 0))[3] == 1, what="the preview to count rm-a's open opportunity")
    previewed = preview()
    assert (previewed.accounts_moved, previewed.opportunities_moved) == (1, 1)
    assert counts(previewed.by_owner) == {"rm-a": (0, 1, 0, 1), "rm-b": (1, 0, 1, 0)}
    assert counts(previewed.by_territory) == {TERRITORY_A: (0, 1, 0, 1), TERRITORY_B: (1, 0, 1, 0)}
    assert get_account(RM_A).owner_id == "rm-a"  # a preview writes nothing

    # Tomorrow comes: the version is applied from its date.
    a_day_passes()
    applied = territory.ApplyModelVersion(pb.ApplyModelVersionRequest(request_id=rid(), version=to_b), metadata=OPS, timeout=30)
    assert applied.version.status == t.MODEL_VERSION_STATUS_APPLIED
    assert counts(applied.realignment.by_owner) == counts(previewed.by_owner)

    wait_until(lambda: get_account(SERVICE).owner_id == "rm-b", what="AccountTerritoryAssigned → the account in rm-b's book")
    wait_until(lambda: get_opportunity(SERVICE).territory_id == TERRITORY_B, what="AccountTerritoryAssigned → the open opportunity follows")
    assert code_of(lambda: get_account(RM_A)) == grpc.StatusCode.NOT_FOUND
    assert get_account(RM_B).territory_id == TERRITORY_B
    moved = get_opportunity(RM_B)
    assert (moved.owner_id, moved.team_id, moved.territory_id) == ("rm-b", "T-HCMB", TERRITORY_B)
    assert code_of(lambda: get_opportunity(RM_A)) == grpc.StatusCode.NOT_FOUND
    history = territory.ListAccountAssignmentHistory(pb.ListAccountAssignmentHistoryRequest(account_id=account_id), metadata=RM_B)
    assert [(h.rule_id, h.owner_id, h.source) for h in history.assignments] == [
        ("R-HCMB", "rm-b", t.ASSIGNMENT_SOURCE_REALIGNMENT),
        ("R-HCMA", "rm-a", t.ASSIGNMENT_SOURCE_RULE),
    ]
