"""The opportunity service's entry in the suite's registry (crm_common.registry): read by every
process and every tool, so it imports nothing heavy (no grpc, sqlalchemy or nameko)."""

from __future__ import annotations

from crm_common.registry import ConsumedEvent, Permission, ServiceDefinition

OPPORTUNITY_READ = "opportunities.read"
OPPORTUNITY_WRITE = "opportunities.write"
# Moving an opportunity to another owner, team or territory (managers, within their data scope).
OPPORTUNITY_REASSIGN = "opportunities.reassign"
# Recording the loan origination system's decisions (the LOS integration's service identity).
LOS_DECISION = "opportunities.los_decision"

_SALES = frozenset({OPPORTUNITY_READ, OPPORTUNITY_WRITE})

SERVICE = ServiceDefinition(
    name="opportunity",
    package="crm_opportunity",
    description="opportunities in product pipelines, activities, forecast and next best actions",
    grpc_port=50053,
    metrics_port=9473,
    worker_metrics_port=9483,
    relay_metrics_port=9493,
    grpc_service="crm.opportunity.v1.OpportunityService",
    settings="crm_opportunity.config:OpportunitySettings",
    bootstrap="crm_opportunity.bootstrap:bootstrap",
    migrations="crm_opportunity:migrations",
    worker_class="crm_opportunity.entrypoints.worker:OpportunityWorker",
    # What people write about customers (activities' subjects, notes and outcomes, encrypted at
    # rest and rotated with `crm-opportunity pii reencrypt|reindex`; next steps) and their deals:
    # part of a person's export and erasure (crm_common.privacy).
    pii=True,
    pii_maintenance="crm_opportunity.adapters.pii_maintenance",
    permissions=(
        Permission(OPPORTUNITY_READ, "read opportunities, pipelines, activities, forecasts and next best actions"),
        Permission(OPPORTUNITY_WRITE, "create, move, update, close and reopen opportunities; plan activities"),
        Permission(OPPORTUNITY_REASSIGN, "move an opportunity to another owner, team or territory"),
        Permission(LOS_DECISION, "record the loan origination system's decisions"),
    ),
    grants={
        "rm": _SALES,
        # Managers: a team's, a branch's and a region's (their data scopes differ, crm_common.auth.roles).
        "sales_manager": _SALES | {OPPORTUNITY_REASSIGN},
        "branch_manager": _SALES | {OPPORTUNITY_REASSIGN},
        "regional_head": _SALES | {OPPORTUNITY_REASSIGN},
        "service": _SALES | {LOS_DECISION},
        "admin": _SALES | {OPPORTUNITY_REASSIGN},
    },
    consumes=(
        ConsumedEvent("account", "ErasureRequested"),
        ConsumedEvent("account", "AccountsMerged"),
        ConsumedEvent("account", "AccountsUnmerged"),
        ConsumedEvent("los", "LosDecisionReported"),
        ConsumedEvent("lead", "LeadContacted"),
        ConsumedEvent("territory-quota", "AccountTerritoryAssigned"),
    ),
    config_files=("OPPORTUNITY_PIPELINES_FILE", "OPPORTUNITY_NBA_RULES_FILE"),
    ctl="crm_opportunity.entrypoints.ctl",
)
