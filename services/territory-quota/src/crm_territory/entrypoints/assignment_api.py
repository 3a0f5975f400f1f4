"""The territory half of the gRPC API: model versions, territories, rules, teams, lead routing,
account assignment and its history, RM departures and access scopes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from crm.common.v1 import common_pb2
from crm.territory.v1 import territory_pb2
from crm.territory.v1 import territory_service_pb2 as pb
from crm_common.auth import Access, Scope
from crm_common.grpc.enums import enum_name
from crm_common.grpc.requests import idempotency_key
from crm_common.pagination import next_token, parse_page
from crm_territory.adapters import assignment_mapping as m
from crm_territory.domain.rules import SubjectKind
from crm_territory.service import TERRITORY_ASSIGN, TERRITORY_MANAGE, TERRITORY_READ, TERRITORY_ROUTE
from crm_territory.service_layer.account_assignment import Override
from crm_territory.service_layer.model_versions import PlanModelVersion
from crm_territory.service_layer.teams import PutTeam

if TYPE_CHECKING:
    from crm_territory.service_layer.use_cases import TerritoryUseCases

# Territories, rules, teams and scopes hold no customer data (Scope.NONE). An account's
# assignment is read within the caller's reach (RECORD: by its owner, team and territory);
# assigning, overriding and departures are bank-wide for the roles that may do them.
ASSIGNMENT_PERMISSIONS: dict[str, Access] = {
    "PlanModelVersion": Access(TERRITORY_MANAGE, Scope.NONE),
    "PreviewModelVersion": Access(TERRITORY_MANAGE, Scope.NONE),
    "ApplyModelVersion": Access(TERRITORY_MANAGE, Scope.NONE),
    "CancelModelVersion": Access(TERRITORY_MANAGE, Scope.NONE),
    "ListModelVersions": Access(TERRITORY_READ, Scope.NONE),
    "GetTerritory": Access(TERRITORY_READ, Scope.NONE),
    "ListTerritories": Access(TERRITORY_READ, Scope.NONE),
    "ValidateAssignmentRules": Access(TERRITORY_MANAGE, Scope.NONE),
    "ListAssignmentRules": Access(TERRITORY_READ, Scope.NONE),
    "PutTeam": Access(TERRITORY_MANAGE, Scope.NONE),
    "ListTeams": Access(TERRITORY_READ, Scope.NONE),
    "ListMembers": Access(TERRITORY_READ, Scope.NONE),
    "ExplainAssignment": Access(TERRITORY_READ, Scope.NONE),
    "RouteLead": Access(TERRITORY_ROUTE, Scope.NONE),
    "AssignAccount": Access(TERRITORY_ASSIGN, Scope.BANK),
    "OverrideAccountAssignment": Access(TERRITORY_ASSIGN, Scope.BANK),
    "ClearAccountOverride": Access(TERRITORY_ASSIGN, Scope.BANK),
    "GetAccountAssignment": Access(TERRITORY_READ, Scope.RECORD),
    "ListAccountAssignmentHistory": Access(TERRITORY_READ, Scope.RECORD),
    "PreviewRmDeparture": Access(TERRITORY_MANAGE, Scope.BANK),
    "ApplyRmDeparture": Access(TERRITORY_MANAGE, Scope.BANK),
    "GetAccessScope": Access(TERRITORY_READ, Scope.NONE),
}


def _version(number: int, field: str = "model_version") -> int:
    if number < 0:
        from crm_common.errors import FieldViolation, InvalidArgument

        raise InvalidArgument(FieldViolation(field, "0 (the version in force) or a version number"))
    return number


def _page(last: Any) -> common_pb2.PageResponse:
    return common_pb2.PageResponse(next_page_token=next_token(last))


class AssignmentApi:
    """Servicer methods of the RPCs above: parse, call one use case, map the result."""

    use_cases: TerritoryUseCases

    def PlanModelVersion(self, request: pb.PlanModelVersionRequest, context: Any) -> pb.PlanModelVersionResponse:
        row, shadowed = self.use_cases.models.plan(
            PlanModelVersion(
                idempotency_key(request),
                m.date_from_proto(request.effective_date, "effective_date"),
                m.nodes_from_proto(request.nodes),
                m.rules_from_proto(request.rules),
                request.note,
            )
        )
        return pb.PlanModelVersionResponse(version=m.version_to_proto(row), shadowed_rule_ids=shadowed)

    def PreviewModelVersion(self, request: pb.PreviewModelVersionRequest, context: Any) -> pb.PreviewModelVersionResponse:
        preview = self.use_cases.models.preview(request.version)
        return pb.PreviewModelVersionResponse(
            version=m.version_to_proto(preview.row),
            changes=m.changes_to_proto(preview.changes),
            realignment=m.realignment_to_proto(preview.realignment),
        )

    def ApplyModelVersion(self, request: pb.ApplyModelVersionRequest, context: Any) -> pb.ApplyModelVersionResponse:
        row, result = self.use_cases.models.apply(idempotency_key(request), request.version)
        return pb.ApplyModelVersionResponse(version=m.version_to_proto(row), realignment=m.realignment_to_proto(result))

    def CancelModelVersion(self, request: pb.CancelModelVersionRequest, context: Any) -> pb.CancelModelVersionResponse:
        row = self.use_cases.models.cancel(idempotency_key(request), request.version)
        return pb.CancelModelVersionResponse(version=m.version_to_proto(row))

    def ListModelVersions(self, request: pb.ListModelVersionsRequest, context: Any) -> pb.ListModelVersionsResponse:
        rows, last = self.use_cases.models.list_versions(parse_page(request.page.page_size, request.page.page_token))
        return pb.ListModelVersionsResponse(versions=[m.version_to_proto(r) for r in rows], page=_page(last))

    def GetTerritory(self, request: pb.GetTerritoryRequest, context: Any) -> pb.GetTerritoryResponse:
        territory, children, version = self.use_cases.models.get_territory(request.territory_id.strip(), _version(request.model_version))
        return pb.GetTerritoryResponse(
            territory=m.territory_to_proto(territory, version), children=[m.territory_to_proto(c, version) for c in children]
        )

    def ListTerritories(self, request: pb.ListTerritoriesRequest, context: Any) -> pb.ListTerritoriesResponse:
        rows, last, version = self.use_cases.models.list_territories(
            parse_page(request.page.page_size, request.page.page_token),
            _version(request.model_version),
            request.within_territory_id.strip(),
            enum_name(territory_pb2.TerritoryLevel, request.level, field="level"),
            request.province_code.strip(),
        )
        return pb.ListTerritoriesResponse(territories=[m.territory_to_proto(t, version) for t in rows], page=_page(last))

    def ValidateAssignmentRules(self, request: pb.ValidateAssignmentRulesRequest, context: Any) -> pb.ValidateAssignmentRulesResponse:
        shadowed = self.use_cases.models.validate_rules(m.rules_from_proto(request.rules), _version(request.model_version))
        return pb.ValidateAssignmentRulesResponse(shadowed_rule_ids=shadowed)

    def ListAssignmentRules(self, request: pb.ListAssignmentRulesRequest, context: Any) -> pb.ListAssignmentRulesResponse:
        rules, last = self.use_cases.models.list_rules(
            parse_page(request.page.page_size, request.page.page_token), _version(request.model_version), request.territory_id.strip()
        )
        return pb.ListAssignmentRulesResponse(rules=[m.rule_to_proto(r) for r in rules], page=_page(last))

    def PutTeam(self, request: pb.PutTeamRequest, context: Any) -> pb.PutTeamResponse:
        team, members = self.use_cases.teams.put_team(
            PutTeam(idempotency_key(request), m.team_from_proto(request.team), m.members_from_proto(request.members))
        )
        return pb.PutTeamResponse(team=m.team_to_proto(team), members=[m.member_to_proto(member) for _, member in members])

    def ListTeams(self, request: pb.ListTeamsRequest, context: Any) -> pb.ListTeamsResponse:
        teams, last = self.use_cases.teams.list_teams(
            parse_page(request.page.page_size, request.page.page_token), request.within_territory_id.strip()
        )
        return pb.ListTeamsResponse(teams=[m.team_to_proto(t) for t in teams], page=_page(last))

    def ListMembers(self, request: pb.ListMembersRequest, context: Any) -> pb.ListMembersResponse:
        members, last = self.use_cases.teams.list_members(
            parse_page(request.page.page_size, request.page.page_token),
            request.team_id.strip(),
            request.within_territory_id.strip(),
            request.subject_id.strip(),
        )
        return pb.ListMembersResponse(members=[m.member_to_proto(member) for _, member in members], page=_page(last))

    def ExplainAssignment(self, request: pb.ExplainAssignmentRequest, context: Any) -> pb.ExplainAssignmentResponse:
        kind = enum_name(territory_pb2.SubjectKind, request.subject.kind, field="subject.kind") or "ACCOUNT"
        subject = m.subject_from_proto(request.subject, "subject", SubjectKind(kind))
        decision = self.use_cases.models.explain(subject, _version(request.model_version))
        return pb.ExplainAssignmentResponse(decision=m.decision_to_proto(decision))

    def RouteLead(self, request: pb.RouteLeadRequest, context: Any) -> pb.RouteLeadResponse:
        decision = self.use_cases.routing.route_lead(idempotency_key(request), m.subject_from_proto(request.lead, "lead", SubjectKind.LEAD))
        return pb.RouteLeadResponse(decision=m.decision_to_proto(decision))

    def AssignAccount(self, request: pb.AssignAccountRequest, context: Any) -> pb.AssignAccountResponse:
        outcome = self.use_cases.accounts.assign_account(
            idempotency_key(request), m.subject_from_proto(request.account, "account", SubjectKind.ACCOUNT)
        )
        reply = pb.AssignAccountResponse(changed=outcome.changed)
        if outcome.assignment is not None:
            reply.assignment.CopyFrom(m.assignment_to_proto(outcome.assignment))
        if outcome.decision is not None:
            reply.decision.CopyFrom(m.decision_to_proto(outcome.decision))
        return reply

    def OverrideAccountAssignment(self, request: pb.OverrideAccountAssignmentRequest, context: Any) -> pb.OverrideAccountAssignmentResponse:
        entry = self.use_cases.accounts.override(
            Override(
                idempotency_key(request),
                request.account_id.strip(),
                request.territory_id.strip(),
                request.owner_id.strip(),
                request.team_id.strip(),
                request.reason,
            )
        )
        return pb.OverrideAccountAssignmentResponse(assignment=m.assignment_to_proto(entry))

    def ClearAccountOverride(self, request: pb.ClearAccountOverrideRequest, context: Any) -> pb.ClearAccountOverrideResponse:
        subject = m.subject_from_proto(request.account, "account", SubjectKind.ACCOUNT) if request.HasField("account") else None
        outcome = self.use_cases.accounts.clear_override(idempotency_key(request), request.account_id.strip(), subject)
        reply = pb.ClearAccountOverrideResponse()
        if outcome.assignment is not None:
            reply.assignment.CopyFrom(m.assignment_to_proto(outcome.assignment))
        if outcome.decision is not None:
            reply.decision.CopyFrom(m.decision_to_proto(outcome.decision))
        return reply

    def GetAccountAssignment(self, request: pb.GetAccountAssignmentRequest, context: Any) -> pb.GetAccountAssignmentResponse:
        entry, decision = self.use_cases.accounts.get_assignment(request.account_id.strip())
        reply = pb.GetAccountAssignmentResponse(assignment=m.assignment_to_proto(entry))
        if decision is not None:
            reply.decision.CopyFrom(m.decision_to_proto(decision))
        return reply

    def ListAccountAssignmentHistory(self, request: pb.ListAccountAssignmentHistoryRequest, context: Any) -> pb.ListAccountAssignmentHistoryResponse:
        rows, last = self.use_cases.accounts.history(request.account_id.strip(), parse_page(request.page.page_size, request.page.page_token))
        return pb.ListAccountAssignmentHistoryResponse(assignments=[m.assignment_to_proto(r) for r in rows], page=_page(last))

    def PreviewRmDeparture(self, request: pb.PreviewRmDepartureRequest, context: Any) -> pb.PreviewRmDepartureResponse:
        result = self.use_cases.accounts.preview_departure(request.rm_id.strip(), m.date_from_proto(request.effective_date, "effective_date"))
        return pb.PreviewRmDepartureResponse(realignment=m.realignment_to_proto(result))

    def ApplyRmDeparture(self, request: pb.ApplyRmDepartureRequest, context: Any) -> pb.ApplyRmDepartureResponse:
        result = self.use_cases.accounts.apply_departure(
            idempotency_key(request), request.rm_id.strip(), m.date_from_proto(request.effective_date, "effective_date")
        )
        return pb.ApplyRmDepartureResponse(realignment=m.realignment_to_proto(result))

    def GetAccessScope(self, request: pb.GetAccessScopeRequest, context: Any) -> pb.GetAccessScopeResponse:
        scope, version = self.use_cases.teams.access_scope(request.subject_id.strip())
        return pb.GetAccessScopeResponse(scope=m.scope_to_proto(scope, version))
