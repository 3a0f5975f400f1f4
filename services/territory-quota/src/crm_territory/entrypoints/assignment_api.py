"""The territory half of the gRPC API: model versions, territories, rules, teams, lead routing,
account assignment and its history, RM departures and access scopes."""

from __future__ import annotations

from crm_territory.service import TERRITORY_ASSIGN, TERRITORY_MANAGE, TERRITORY_READ, TERRITORY_ROUTE

ASSIGNMENT_PERMISSIONS: dict[str, str | None] = {
    "PlanModelVersion": TERRITORY_MANAGE,
    "PreviewModelVersion": TERRITORY_MANAGE,
    "ApplyModelVersion": TERRITORY_MANAGE,
    "CancelModelVersion": TERRITORY_MANAGE,
    "ListModelVersions": TERRITORY_READ,
    "GetTerritory": TERRITORY_READ,
    "ListTerritories": TERRITORY_READ,
    "ValidateAssignmentRules": TERRITORY_MANAGE,
    "ListAssignmentRules": TERRITORY_READ,
    "PutTeam": TERRITORY_MANAGE,
    "ListTeams": TERRITORY_READ,
    "ListMembers": TERRITORY_READ,
    "ExplainAssignment": TERRITORY_READ,
    "RouteLead": TERRITORY_ROUTE,
    "AssignAccount": TERRITORY_ASSIGN,
    "OverrideAccountAssignment": TERRITORY_ASSIGN,
    "ClearAccountOverride": TERRITORY_ASSIGN,
    "GetAccountAssignment": TERRITORY_READ,
    "ListAccountAssignmentHistory": TERRITORY_READ,
    "PreviewRmDeparture": TERRITORY_MANAGE,
    "ApplyRmDeparture": TERRITORY_MANAGE,
    "GetAccessScope": TERRITORY_READ,
}


class AssignmentApi:
    """Servicer methods of the RPCs above (a method not written yet answers UNIMPLEMENTED)."""
