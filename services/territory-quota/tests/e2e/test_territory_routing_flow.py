"""Territories in the running suite (real processes, PostgreSQL and RabbitMQ): a lead captured in a
province is routed by the rules to that branch's RM and the lead service assigns it, starting its
first-contact SLA; a new account gets its territory and RM, which the account records."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from crm.account.v1 import account_pb2
from crm.account.v1 import account_service_pb2 as account_svc
from crm.common.v1 import common_pb2
from crm.lead.v1 import lead_pb2
from crm.lead.v1 import lead_service_pb2 as lead_svc
from crm.territory.v1 import territory_pb2 as t
from crm.territory.v1 import territory_service_pb2 as pb
from crm_common.testing import bearer, wait_until
from crm_common.testing_e2e import Suite

OPS = bearer("ops-1", ["sales_ops"])
MARKETING = bearer("mkt-1", ["marketing"])
# Reads bank-wide: once routed, the lead and the account are in rm-hn-1's book, not a reader's.
SERVICE = bearer("service:e2e", ["service"])


def rid() -> str:
    return str(uuid.uuid4())


def set_up_hanoi(suite: Suite) -> None:
    """A bank with a Hà Nội branch (province 01) whose team has one RM, and a rule sending the
    province's accounts and leads there."""
    territory = suite.stubs["territory-quota"]
    today = datetime.now(UTC).date()
    nodes = [
        t.TerritoryNodeInput(code="VN", name="Bank", level=t.TERRITORY_LEVEL_BANK),
        t.TerritoryNodeInput(code="NORTH", parent_code="VN", name="North", level=t.TERRITORY_LEVEL_REGION),
        t.TerritoryNodeInput(code="HN", parent_code="NORTH", name="Hà Nội", level=t.TERRITORY_LEVEL_PROVINCE, province_code="01"),
        t.TerritoryNodeInput(code="HN01", parent_code="HN", name="Hoàn Kiếm", level=t.TERRITORY_LEVEL_BRANCH, branch_id="B-HN01"),
    ]
    effective = common_pb2.Date(year=today.year, month=today.month, day=today.day)
    territory.PlanModelVersion(pb.PlanModelVersionRequest(request_id=rid(), effective_date=effective, nodes=nodes), metadata=OPS)
    team = t.Team(team_id="T-HN01", territory_id="VN.NORTH.HN.HN01", name="Hoàn Kiếm RMs")
    territory.PutTeam(
        pb.PutTeamRequest(request_id=rid(), team=team, members=[t.Member(subject_id="rm-hn-1", role=t.MEMBER_ROLE_RM, active=True)]), metadata=OPS
    )
    rule = t.AssignmentRule(
        rule_id="R-HN", name="Hà Nội", priority=10, territory_id="VN.NORTH.HN.HN01", strategy=t.OWNER_STRATEGY_ROUND_ROBIN, team_id="T-HN01",
        conditions=t.RuleConditions(province_codes=["01"]),
    )  # fmt: skip
    planned = territory.PlanModelVersion(
        pb.PlanModelVersionRequest(request_id=rid(), effective_date=effective, nodes=nodes, rules=[rule]), metadata=OPS
    )
    territory.ApplyModelVersion(pb.ApplyModelVersionRequest(request_id=rid(), version=planned.version.version), metadata=OPS, timeout=30)


def test_a_lead_captured_in_a_province_goes_to_its_branch_rm_and_an_account_to_its_territory(suite: Suite) -> None:
    set_up_hanoi(suite)
    lead = suite.lead.CreateLead(
        lead_svc.CreateLeadRequest(
            request_id=rid(),
            lead=lead_pb2.LeadInput(
                contact=lead_pb2.ContactInput(full_name="Phạm Thu Hà", phone="0912 555 131", email="thu.ha@example.vn", province_code="01"),
                product_interest=common_pb2.PRODUCT_TYPE_CREDIT_CARD,
                source=lead_pb2.LeadSource(channel=lead_pb2.CHANNEL_LANDING_PAGE),
            ),
        ),
        metadata=MARKETING,
    ).lead
    assert lead.status == lead_pb2.LEAD_STATUS_MQL and not lead.assignment.owner_id

    def assignment() -> lead_pb2.Assignment:
        return suite.lead.GetLead(lead_svc.GetLeadRequest(lead_id=lead.lead_id), metadata=SERVICE).lead.assignment

    wait_until(lambda: assignment().owner_id, what="LeadCaptured → LeadRouted → the lead service's assignment")
    routed = assignment()
    assert (routed.owner_id, routed.team_id, routed.source) == ("rm-hn-1", "T-HN01", lead_pb2.ASSIGNMENT_SOURCE_ROUTED)
    assert (routed.routing_rule_id, routed.territory_id) == ("R-HN", "VN.NORTH.HN.HN01")
    assert routed.first_contact_due_time.ToDatetime(tzinfo=UTC) > routed.assign_time.ToDatetime(tzinfo=UTC)

    person = account_pb2.AccountInput(
        type=account_pb2.ACCOUNT_TYPE_PERSON, full_name="Lê Văn Bình", phones=["0912 555 132"], address=account_pb2.Address(province_code="01")
    )
    account_id = suite.account.CreateAccount(account_svc.CreateAccountRequest(request_id=rid(), account=person), metadata=SERVICE).account.account_id

    def placed() -> account_pb2.Account:
        return suite.account.GetAccount(account_svc.GetAccountRequest(account_id=account_id), metadata=SERVICE).account

    wait_until(lambda: placed().territory_id, what="AccountCreated → AccountTerritoryAssigned → the account records it")
    assert (placed().territory_id, placed().owner_id) == ("VN.NORTH.HN.HN01", "rm-hn-1")
    history = suite.stubs["territory-quota"].ListAccountAssignmentHistory(
        pb.ListAccountAssignmentHistoryRequest(account_id=account_id), metadata=SERVICE
    )
    assert [(h.rule_id, h.source) for h in history.assignments] == [("R-HN", t.ASSIGNMENT_SOURCE_RULE)]
