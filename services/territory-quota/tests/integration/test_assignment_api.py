"""The territory half of the API on a real server and database (SQLite and PostgreSQL): model
versions, teams, routing, account assignment and history, realignment, departures, scopes, and
the precise status of every bad input."""

from __future__ import annotations

from datetime import timedelta

import grpc
import pytest
from territory_bank import MANAGER, NODES, OPS, RM, SERVICE, WEB, account, day, node, plan, rpc_error, rule, set_up_bank, today

from crm.common.v1 import common_pb2
from crm.territory.v1 import events_pb2
from crm.territory.v1 import territory_pb2 as t
from crm.territory.v1 import territory_service_pb2 as pb
from crm.territory.v1.territory_service_pb2_grpc import TerritoryServiceStub
from crm_common.db import new_id
from crm_common.grpc.status import field_violations
from crm_common.testing import LiveService


@pytest.fixture
def stub(api: LiveService) -> TerritoryServiceStub:
    return TerritoryServiceStub(api.channel)


@pytest.fixture
def bank(stub: TerritoryServiceStub) -> int:
    return set_up_bank(stub)


def assign(stub: TerritoryServiceStub, attributes: t.SubjectAttributes, request_id: str = "") -> pb.AssignAccountResponse:
    reply: pb.AssignAccountResponse = stub.AssignAccount(
        pb.AssignAccountRequest(request_id=request_id or new_id(), account=attributes), metadata=SERVICE, timeout=10
    )
    return reply


class TestModelVersions:
    def test_plan_apply_and_history(self, api: LiveService, stub: TerritoryServiceStub, bank: int) -> None:
        versions = stub.ListModelVersions(pb.ListModelVersionsRequest(), metadata=RM, timeout=10).versions
        assert [(v.version, v.status) for v in versions] == [(2, t.MODEL_VERSION_STATUS_APPLIED), (1, t.MODEL_VERSION_STATUS_CANCELLED)]
        assert (versions[0].territory_count, versions[0].rule_count, versions[0].applied_by) == (8, 3, "ops-1")
        applied = api.events(events_pb2.TerritoryModelApplied)
        assert [(e.version.version, e.previous_version) for e in applied] == [(2, 0)]

    def test_a_later_version_supersedes_and_moves_accounts(self, api: LiveService, stub: TerritoryServiceStub, bank: int) -> None:
        assign(stub, account("acc-1", "01"))
        assign(stub, account("acc-2", "79"))
        tomorrow = plan(stub, effective_date=day(today() + timedelta(days=1)))
        assert (
            rpc_error(stub.ApplyModelVersion, pb.ApplyModelVersionRequest(request_id=new_id(), version=tomorrow.version.version), metadata=OPS).code()
            == grpc.StatusCode.FAILED_PRECONDITION
        )
        stub.CancelModelVersion(pb.CancelModelVersionRequest(request_id=new_id(), version=tomorrow.version.version), metadata=OPS, timeout=10)
        # Hà Nội's accounts go to the HCM team's territory in the new rules (a deliberate move).
        moved_rules = [rule("R-ALL", 10, "VN.SOUTH.HCM.HCM01", "T-HCM01", strategy=t.OWNER_STRATEGY_LEAST_LOADED)]
        with pytest.raises(grpc.RpcError) as same_day:
            plan(stub, rules=moved_rules)
        assert same_day.value.code() == grpc.StatusCode.INVALID_ARGUMENT  # not after the version in force
        preview_version = plan(stub, rules=moved_rules, effective_date=day(today() + timedelta(days=2))).version.version
        preview = stub.PreviewModelVersion(pb.PreviewModelVersionRequest(version=preview_version), metadata=OPS, timeout=30)
        assert (preview.realignment.accounts_evaluated, preview.realignment.accounts_moved) == (2, 1)
        by_territory = {c.key: (c.accounts_in, c.accounts_out) for c in preview.realignment.by_territory}
        assert by_territory == {"VN.SOUTH.HCM.HCM01": (1, 0), "VN.NORTH.HN.HN01": (0, 1)}
        assert not preview.changes.added_territory_ids  # same hierarchy
        # Nothing changed by the preview.
        current = stub.GetAccountAssignment(pb.GetAccountAssignmentRequest(account_id="acc-1"), metadata=SERVICE, timeout=10)
        assert current.assignment.territory_id == "VN.NORTH.HN.HN01"

    def test_bad_hierarchies_are_invalid_argument_with_every_violation(self, stub: TerritoryServiceStub) -> None:
        cycle = [*NODES, node("X", "Y", t.TERRITORY_LEVEL_REGION), node("Y", "X", t.TERRITORY_LEVEL_REGION)]
        error = rpc_error(plan, stub, nodes=cycle, rules=[])
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert any("cycle: X → Y → X" in d for _, d in field_violations(error))
        bad = [
            node("VN", "", t.TERRITORY_LEVEL_BANK),
            node("P", "VN", t.TERRITORY_LEVEL_PROVINCE, province_code="99"),
            node("Q", "NOPE", t.TERRITORY_LEVEL_REGION),
        ]
        fields = {f for f, _ in field_violations(rpc_error(plan, stub, nodes=bad, rules=[]))}
        assert {"nodes[1].province_code", "nodes[2].parent_code"} <= fields
        assert rpc_error(plan, stub, rules=[], effective_date=day(today() - timedelta(days=1))).code() == grpc.StatusCode.INVALID_ARGUMENT
        assert rpc_error(plan, stub, rules=[], effective_date=common_pb2.Date(year=2026, month=2, day=30)).code() == grpc.StatusCode.INVALID_ARGUMENT

    def test_overlapping_rules_and_unknown_territories_are_refused(self, stub: TerritoryServiceStub, bank: int) -> None:
        overlapping = [
            rule("A", 5, "VN.NORTH.HN.HN01", "T-HN01", province_codes=["01"]),
            rule("B", 5, "VN.NORTH.HN.HN01", "T-HN01", tiers=[t.WEALTH_TIER_MASS]),
        ]
        error = rpc_error(stub.ValidateAssignmentRules, pb.ValidateAssignmentRulesRequest(rules=overlapping), metadata=OPS)
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert any("overlaps" in d for _, d in field_violations(error))
        unknown = [rule("A", 5, "VN.NOWHERE", "T-HN01")]
        assert ("rules[0].territory_id", "unknown territory 'VN.NOWHERE'") in field_violations(
            rpc_error(stub.ValidateAssignmentRules, pb.ValidateAssignmentRulesRequest(rules=unknown), metadata=OPS)
        )
        no_strategy = [t.AssignmentRule(rule_id="Z", priority=1, territory_id="VN")]
        assert "rules[0].strategy" in {
            f
            for f, _ in field_violations(rpc_error(stub.ValidateAssignmentRules, pb.ValidateAssignmentRulesRequest(rules=no_strategy), metadata=OPS))
        }
        shadowed = [rule("WIDE", 1, "VN.NORTH.HN.HN01", "T-HN01"), rule("NARROW", 2, "VN.NORTH.HN.HN01", "T-HN01", province_codes=["01"])]
        assert list(stub.ValidateAssignmentRules(pb.ValidateAssignmentRulesRequest(rules=shadowed), metadata=OPS, timeout=10).shadowed_rule_ids) == [
            "NARROW"
        ]

    def test_unknown_or_final_versions(self, stub: TerritoryServiceStub, bank: int) -> None:
        assert rpc_error(stub.PreviewModelVersion, pb.PreviewModelVersionRequest(version=99), metadata=OPS).code() == grpc.StatusCode.NOT_FOUND
        assert rpc_error(stub.PreviewModelVersion, pb.PreviewModelVersionRequest(version=0), metadata=OPS).code() == grpc.StatusCode.INVALID_ARGUMENT
        again = pb.ApplyModelVersionRequest(request_id=new_id(), version=bank)
        assert rpc_error(stub.ApplyModelVersion, again, metadata=OPS).code() == grpc.StatusCode.FAILED_PRECONDITION
        assert (
            rpc_error(stub.CancelModelVersion, pb.CancelModelVersionRequest(request_id=new_id(), version=bank), metadata=OPS).code()
            == grpc.StatusCode.FAILED_PRECONDITION
        )
        assert (
            rpc_error(stub.PlanModelVersion, pb.PlanModelVersionRequest(request_id=new_id()), metadata=RM).code() == grpc.StatusCode.PERMISSION_DENIED
        )

    def test_a_model_of_25000_territories(self, stub: TerritoryServiceStub) -> None:
        from crm_common.vietnam import PROVINCES

        regions = ["NORTH", "CENTRAL", "SOUTH"]
        nodes = [node("VN", "", t.TERRITORY_LEVEL_BANK)] + [node(r, "VN", t.TERRITORY_LEVEL_REGION) for r in regions]
        provinces = sorted(PROVINCES)
        for i, code in enumerate(provinces):
            nodes.append(node(f"P{code}", regions[i % 3], t.TERRITORY_LEVEL_PROVINCE, province_code=code))
        per_province = -(-(25_000 - len(nodes)) // len(provinces))
        for code in provinces:
            nodes += [node(f"B{code}{b:04d}", f"P{code}", t.TERRITORY_LEVEL_BRANCH, branch_id=f"BR{code}{b:04d}") for b in range(per_province)]
        version = plan(stub, nodes=nodes, rules=[]).version
        assert version.territory_count == len(nodes) >= 25_000
        under = stub.ListTerritories(
            pb.ListTerritoriesRequest(model_version=version.version, within_territory_id="VN.NORTH.P01", page=common_pb2.PageRequest(page_size=500)),
            metadata=RM,
            timeout=30,
        )
        assert len(under.territories) == per_province + 1 and under.page.next_page_token == ""

    def test_idempotent_plan(self, stub: TerritoryServiceStub) -> None:
        request = pb.PlanModelVersionRequest(request_id="plan-1", effective_date=day(today()), nodes=NODES)
        first = stub.PlanModelVersion(request, metadata=OPS, timeout=10)
        second = stub.PlanModelVersion(request, metadata=OPS, timeout=10)
        assert first.version.version == second.version.version == 1
        assert len(stub.ListModelVersions(pb.ListModelVersionsRequest(), metadata=OPS, timeout=10).versions) == 1


class TestTerritoriesAndRules:
    def test_get_and_list(self, stub: TerritoryServiceStub, bank: int) -> None:
        hn = stub.GetTerritory(pb.GetTerritoryRequest(territory_id="VN.NORTH.HN"), metadata=RM, timeout=10)
        assert (hn.territory.province_code, hn.territory.province_name, hn.territory.model_version) == ("01", "Hà Nội", bank)
        assert [c.territory_id for c in hn.children] == ["VN.NORTH.HN.HN01", "VN.NORTH.HN.HNAFF"]
        listed = stub.ListTerritories(
            pb.ListTerritoriesRequest(within_territory_id="VN.NORTH", page=common_pb2.PageRequest(page_size=2)), metadata=RM, timeout=10
        )
        assert [x.territory_id for x in listed.territories] == ["VN.NORTH", "VN.NORTH.HN"]
        rest = stub.ListTerritories(
            pb.ListTerritoriesRequest(within_territory_id="VN.NORTH", page=common_pb2.PageRequest(page_token=listed.page.next_page_token)),
            metadata=RM,
            timeout=10,
        )
        assert [x.territory_id for x in rest.territories] == ["VN.NORTH.HN.HN01", "VN.NORTH.HN.HNAFF"]
        branches = stub.ListTerritories(pb.ListTerritoriesRequest(level=t.TERRITORY_LEVEL_BRANCH), metadata=RM, timeout=10)
        assert [x.branch_id for x in branches.territories] == ["B-HN01", "B-HCM01"]
        assert rpc_error(stub.GetTerritory, pb.GetTerritoryRequest(territory_id="VN.MOON"), metadata=RM).code() == grpc.StatusCode.NOT_FOUND
        assert rpc_error(stub.ListTerritories, pb.ListTerritoriesRequest(level=42), metadata=RM).code() == grpc.StatusCode.INVALID_ARGUMENT
        rules = stub.ListAssignmentRules(pb.ListAssignmentRulesRequest(), metadata=RM, timeout=10).rules
        assert [r.rule_id for r in rules] == ["R-AFF", "R-HCM", "R-HN"]
        assert list(rules[0].conditions.tiers) == [t.WEALTH_TIER_AFFLUENT]

    def test_no_model_in_force(self, stub: TerritoryServiceStub) -> None:
        assert rpc_error(stub.ListTerritories, pb.ListTerritoriesRequest(), metadata=RM).code() == grpc.StatusCode.FAILED_PRECONDITION


class TestTeams:
    def test_put_list_and_scope(self, api: LiveService, stub: TerritoryServiceStub, bank: int) -> None:
        teams = stub.ListTeams(pb.ListTeamsRequest(within_territory_id="VN.NORTH"), metadata=RM, timeout=10).teams
        assert [x.team_id for x in teams] == ["T-HN01", "T-HNAFF", "T-NORTH"]
        members = stub.ListMembers(pb.ListMembersRequest(team_id="T-HN01"), metadata=RM, timeout=10).members
        assert [(m.subject_id, m.team_id) for m in members] == [("bm-hn", ""), ("rm-a", "T-HN01"), ("rm-b", "T-HN01")]
        head = stub.GetAccessScope(pb.GetAccessScopeRequest(subject_id="head-n"), metadata=SERVICE, timeout=10).scope
        assert [(g.territory_id, g.role) for g in head.territories] == [("VN.NORTH", t.MEMBER_ROLE_REGIONAL_HEAD)]
        assert list(head.team_ids) == ["T-HN01", "T-HNAFF", "T-NORTH"]
        assert list(head.branch_ids) == ["B-HN01"]
        rm = stub.GetAccessScope(pb.GetAccessScopeRequest(subject_id="rm-a"), metadata=SERVICE, timeout=10).scope
        assert [g.territory_id for g in rm.territories] == ["VN.NORTH.HN.HN01"] and list(rm.team_ids) == ["T-HN01"]
        assert not stub.GetAccessScope(pb.GetAccessScopeRequest(subject_id="nobody"), metadata=SERVICE, timeout=10).scope.territories
        assert {e.scope.subject_id for e in api.events(events_pb2.AccessScopeChanged)} >= {"rm-a", "head-n"}

    def test_bad_teams(self, stub: TerritoryServiceStub, bank: int) -> None:
        def put(team: t.Team, members: list[t.Member]) -> grpc.RpcError:
            return rpc_error(stub.PutTeam, pb.PutTeamRequest(request_id=new_id(), team=team, members=members), metadata=OPS)

        error = put(t.Team(team_id="X", territory_id="VN.MOON", name="x"), [])
        assert (error.code(), field_violations(error)[0][0]) == (grpc.StatusCode.INVALID_ARGUMENT, "team.territory_id")
        hn = t.Team(team_id="X", territory_id="VN.NORTH.HN.HN01", name="x")
        error = put(hn, [t.Member(subject_id="a", role=t.MEMBER_ROLE_RM, active=True), t.Member(subject_id="a", role=t.MEMBER_ROLE_RM, capacity=-1)])
        assert {"members[1].subject_id", "members[1].capacity"} <= {f for f, _ in field_violations(error)}
        error = put(hn, [t.Member(subject_id="b", role=t.MEMBER_ROLE_RM, territory_id="VN.SOUTH.HCM")])
        assert field_violations(error)[0][0] == "members[0].territory_id"
        assert put(hn, [t.Member(subject_id="c")]).code() == grpc.StatusCode.INVALID_ARGUMENT  # no role
        assert rpc_error(stub.ListMembers, pb.ListMembersRequest(team_id="a", subject_id="b"), metadata=RM).code() == grpc.StatusCode.INVALID_ARGUMENT
        assert rpc_error(stub.GetAccessScope, pb.GetAccessScopeRequest(), metadata=RM).code() == grpc.StatusCode.INVALID_ARGUMENT


class TestRouting:
    def test_route_lead_explains_and_publishes(self, api: LiveService, stub: TerritoryServiceStub, bank: int) -> None:
        lead = t.SubjectAttributes(subject_id="lead-1", province_code="79", products=[common_pb2.PRODUCT_TYPE_CREDIT_CARD])
        decision = stub.RouteLead(pb.RouteLeadRequest(request_id="route-1", lead=lead), metadata=WEB, timeout=10).decision
        assert (decision.territory_id, decision.rule_id, decision.owner_id, decision.model_version) == ("VN.SOUTH.HCM.HCM01", "R-HCM", "rm-s", bank)
        assert [e.rule_id for e in decision.evaluations] == ["R-AFF", "R-HCM"]
        assert decision.evaluations[0].failures[0].attribute == "province_codes"
        assert decision.summary.startswith("rule R-HCM matched; earlier rules did not: R-AFF")
        assert "least loaded" in decision.owner_reason
        again = stub.RouteLead(pb.RouteLeadRequest(request_id="route-1", lead=lead), metadata=WEB, timeout=10).decision
        assert again.owner_id == "rm-s"
        routed = api.events(events_pb2.LeadRouted)
        assert [(e.lead_id, e.decision.owner_id, e.trigger) for e in routed] == [("lead-1", "rm-s", events_pb2.ROUTING_TRIGGER_REQUESTED)]

    def test_round_robin_takes_turns_and_no_match_is_explained(self, stub: TerritoryServiceStub, bank: int) -> None:
        owners = [
            stub.RouteLead(
                pb.RouteLeadRequest(request_id=new_id(), lead=t.SubjectAttributes(subject_id=f"l{i}", province_code="01")), metadata=WEB, timeout=10
            ).decision.owner_id
            for i in range(3)
        ]
        assert owners == ["rm-a", "rm-b", "rm-a"]
        nowhere = stub.RouteLead(
            pb.RouteLeadRequest(request_id=new_id(), lead=t.SubjectAttributes(subject_id="l9", province_code="48")), metadata=WEB, timeout=10
        ).decision
        assert (nowhere.territory_id, nowhere.owner_id) == ("", "")
        assert nowhere.summary.startswith("no rule matched")

    def test_bad_routing_input(self, stub: TerritoryServiceStub, bank: int) -> None:
        error = rpc_error(
            stub.RouteLead,
            pb.RouteLeadRequest(request_id=new_id(), lead=t.SubjectAttributes(kind=t.SUBJECT_KIND_ACCOUNT, subject_id="x")),
            metadata=WEB,
        )
        assert field_violations(error) == [("lead.kind", "must be LEAD (or unset) here")]
        assert (
            rpc_error(stub.RouteLead, pb.RouteLeadRequest(request_id=new_id(), lead=t.SubjectAttributes()), metadata=WEB).code()
            == grpc.StatusCode.INVALID_ARGUMENT
        )
        assert (
            rpc_error(stub.RouteLead, pb.RouteLeadRequest(lead=t.SubjectAttributes(subject_id="x")), metadata=WEB).code()
            == grpc.StatusCode.INVALID_ARGUMENT
        )
        assert (
            rpc_error(stub.RouteLead, pb.RouteLeadRequest(request_id=new_id(), lead=t.SubjectAttributes(subject_id="x")), metadata=RM).code()
            == grpc.StatusCode.PERMISSION_DENIED
        )
        explained = stub.ExplainAssignment(
            pb.ExplainAssignmentRequest(subject=account("a", "01", tier=t.WEALTH_TIER_AFFLUENT)), metadata=RM, timeout=10
        ).decision
        assert (explained.rule_id, explained.owner_id) == ("R-AFF", "rm-p")


class TestAccounts:
    def test_assign_history_override_and_clear(self, api: LiveService, stub: TerritoryServiceStub, bank: int) -> None:
        first = assign(stub, account("acc-1", "01"))
        assert first.changed and (first.assignment.territory_id, first.assignment.owner_id, first.assignment.rule_id) == (
            "VN.NORTH.HN.HN01",
            "rm-a",
            "R-HN",
        )
        assert first.assignment.source == t.ASSIGNMENT_SOURCE_RULE
        assert not assign(stub, account("acc-1", "01")).changed
        moved = assign(stub, account("acc-1", "01", tier=t.WEALTH_TIER_AFFLUENT))
        assert (moved.assignment.territory_id, moved.assignment.owner_id) == ("VN.NORTH.HN.HNAFF", "rm-p")
        override = stub.OverrideAccountAssignment(
            pb.OverrideAccountAssignmentRequest(
                request_id=new_id(), account_id="acc-1", territory_id="VN.SOUTH.HCM.HCM01", owner_id="rm-t", reason="customer moved"
            ),
            metadata=MANAGER,
            timeout=10,
        ).assignment
        assert (override.source, override.team_id, override.reason) == (t.ASSIGNMENT_SOURCE_MANUAL_OVERRIDE, "T-HCM01", "customer moved")
        kept = assign(stub, account("acc-1", "01"))
        assert not kept.changed and kept.assignment.owner_id == "rm-t"
        cleared = stub.ClearAccountOverride(pb.ClearAccountOverrideRequest(request_id=new_id(), account_id="acc-1"), metadata=MANAGER, timeout=10)
        assert (cleared.assignment.territory_id, cleared.assignment.source) == ("VN.NORTH.HN.HN01", t.ASSIGNMENT_SOURCE_RULE)
        history = stub.ListAccountAssignmentHistory(
            pb.ListAccountAssignmentHistoryRequest(account_id="acc-1"), metadata=SERVICE, timeout=10
        ).assignments
        assert [(h.territory_id, h.source) for h in history] == [
            ("VN.NORTH.HN.HN01", t.ASSIGNMENT_SOURCE_RULE),
            ("VN.SOUTH.HCM.HCM01", t.ASSIGNMENT_SOURCE_MANUAL_OVERRIDE),
            ("VN.NORTH.HN.HNAFF", t.ASSIGNMENT_SOURCE_RULE),
            ("VN.NORTH.HN.HN01", t.ASSIGNMENT_SOURCE_RULE),
        ]
        assert not history[0].HasField("end_time") and all(h.HasField("end_time") for h in history[1:])
        assert history[1].effective_time == history[2].end_time
        current = stub.GetAccountAssignment(pb.GetAccountAssignmentRequest(account_id="acc-1"), metadata=SERVICE, timeout=10)
        assert current.decision.rule_id == "R-HN" and current.decision.summary.startswith("rule R-HN matched; earlier rules did not: R-AFF")
        events = api.events(events_pb2.AccountTerritoryAssigned)
        assert [(e.assignment.territory_id, e.previous_territory_id) for e in events][:2] == [
            ("VN.NORTH.HN.HN01", ""),
            ("VN.NORTH.HN.HNAFF", "VN.NORTH.HN.HN01"),
        ]
        assert len(events) == 4

    def test_an_rm_reads_the_assignments_of_their_own_book_only(self, stub: TerritoryServiceStub, bank: int) -> None:
        assert assign(stub, account("mine", "01")).assignment.owner_id == "rm-a"
        assert assign(stub, account("theirs", "79")).assignment.owner_id == "rm-s"
        own = stub.GetAccountAssignment(pb.GetAccountAssignmentRequest(account_id="mine"), metadata=RM, timeout=10)
        assert own.assignment.owner_id == "rm-a"
        assert (
            len(stub.ListAccountAssignmentHistory(pb.ListAccountAssignmentHistoryRequest(account_id="mine"), metadata=RM, timeout=10).assignments)
            == 1
        )
        for call, request in (
            (stub.GetAccountAssignment, pb.GetAccountAssignmentRequest(account_id="theirs")),
            (stub.ListAccountAssignmentHistory, pb.ListAccountAssignmentHistoryRequest(account_id="theirs")),
        ):
            assert rpc_error(call, request, metadata=RM).code() == grpc.StatusCode.NOT_FOUND

    def test_bad_account_input(self, stub: TerritoryServiceStub, bank: int) -> None:
        assert (
            rpc_error(stub.GetAccountAssignment, pb.GetAccountAssignmentRequest(account_id="none"), metadata=RM).code() == grpc.StatusCode.NOT_FOUND
        )
        assert rpc_error(stub.GetAccountAssignment, pb.GetAccountAssignmentRequest(), metadata=RM).code() == grpc.StatusCode.INVALID_ARGUMENT
        bad = pb.OverrideAccountAssignmentRequest(
            request_id=new_id(), account_id="a", territory_id="VN.MOON", owner_id="ghost", team_id="T-NONE", reason="x"
        )
        assert {f for f, _ in field_violations(rpc_error(stub.OverrideAccountAssignment, bad, metadata=MANAGER))} == {
            "territory_id",
            "owner_id",
            "team_id",
        }
        no_reason = pb.OverrideAccountAssignmentRequest(request_id=new_id(), account_id="a", territory_id="VN", owner_id="rm-a")
        assert field_violations(rpc_error(stub.OverrideAccountAssignment, no_reason, metadata=MANAGER))[0][0] == "reason"
        clear = pb.ClearAccountOverrideRequest(request_id=new_id(), account_id="a")
        assert rpc_error(stub.ClearAccountOverride, clear, metadata=MANAGER).code() == grpc.StatusCode.FAILED_PRECONDITION
        foreign = rpc_error(
            stub.AssignAccount,
            pb.AssignAccountRequest(request_id=new_id(), account=account("a", aum=common_pb2.Money(currency_code="USD", amount_minor=1))),
            metadata=SERVICE,
        )
        assert field_violations(foreign) == [("account.aum.currency_code", "VND only")]
        assert (
            rpc_error(stub.AssignAccount, pb.AssignAccountRequest(request_id=new_id(), account=account("a")), metadata=RM).code()
            == grpc.StatusCode.PERMISSION_DENIED
        )


class TestDeparture:
    def test_preview_and_apply_moves_the_book(self, api: LiveService, stub: TerritoryServiceStub, bank: int) -> None:
        for i in range(4):
            assign(stub, account(f"acc-{i}", "01"))  # rm-a, rm-b, rm-a, rm-b
        preview = stub.PreviewRmDeparture(
            pb.PreviewRmDepartureRequest(rm_id="rm-a", effective_date=day(today())), metadata=OPS, timeout=10
        ).realignment
        assert (preview.accounts_evaluated, preview.accounts_moved) == (2, 2)
        assert {c.key: (c.accounts_in, c.accounts_out) for c in preview.by_owner} == {"rm-a": (0, 2), "rm-b": (2, 0)}
        applied = stub.ApplyRmDeparture(
            pb.ApplyRmDepartureRequest(request_id=new_id(), rm_id="rm-a", effective_date=day(today())), metadata=OPS, timeout=30
        ).realignment
        assert applied.accounts_moved == 2
        for i in range(4):
            entry = stub.GetAccountAssignment(pb.GetAccountAssignmentRequest(account_id=f"acc-{i}"), metadata=SERVICE, timeout=10).assignment
            assert entry.owner_id == "rm-b"
        moved = stub.ListAccountAssignmentHistory(
            pb.ListAccountAssignmentHistoryRequest(account_id="acc-0"), metadata=SERVICE, timeout=10
        ).assignments[0]
        assert moved.source == t.ASSIGNMENT_SOURCE_RM_DEPARTURE
        rm_a = stub.ListMembers(pb.ListMembersRequest(subject_id="rm-a"), metadata=RM, timeout=10).members[0]
        assert not rm_a.active
        assert not stub.GetAccessScope(pb.GetAccessScopeRequest(subject_id="rm-a"), metadata=SERVICE, timeout=10).scope.territories
        # New accounts no longer go to rm-a.
        assert assign(stub, account("acc-9", "01")).assignment.owner_id == "rm-b"

    def test_bad_departures(self, stub: TerritoryServiceStub, bank: int) -> None:
        assert (
            rpc_error(stub.PreviewRmDeparture, pb.PreviewRmDepartureRequest(rm_id="ghost", effective_date=day(today())), metadata=OPS).code()
            == grpc.StatusCode.NOT_FOUND
        )
        error = rpc_error(stub.ApplyRmDeparture, pb.ApplyRmDepartureRequest(request_id=new_id()), metadata=OPS)
        assert {f for f, _ in field_violations(error)} == {"rm_id", "effective_date"}
