"""The territory-quota service's entry in the suite's registry (crm_common.registry): read by every
process and every tool, so it imports nothing heavy (no grpc, sqlalchemy or nameko)."""

from __future__ import annotations

from crm_common.registry import ConsumedEvent, Permission, ServiceDefinition

TERRITORY_READ = "territories.read"
# Planning and applying territory model versions, rules, teams and RM departures (sales ops).
TERRITORY_MANAGE = "territories.manage"
# Assigning an account to a territory and RM by hand (an override of the rules).
TERRITORY_ASSIGN = "territories.assign"
# Routing a lead synchronously (the lead service, landing-page backends).
TERRITORY_ROUTE = "territories.route"
QUOTA_READ = "quotas.read"
# Seeding, allocating, adjusting and submitting quota plans (the maker).
QUOTA_PLAN = "quotas.plan"
# Approving or rejecting a submitted plan (the checker: never the plan's maker).
QUOTA_APPROVE = "quotas.approve"

SERVICE = ServiceDefinition(
    name="territory-quota",
    package="crm_territory",
    description="territories by geography, product and wealth tier, assignment rules and lead routing, quotas, attainment and coverage",
    grpc_port=50054,
    metrics_port=9474,
    worker_metrics_port=9484,
    relay_metrics_port=9494,
    grpc_service="crm.territory.v1.TerritoryService",
    settings="crm_territory.config:TerritorySettings",
    bootstrap="crm_territory.bootstrap:bootstrap",
    migrations="crm_territory:migrations",
    worker_class="crm_territory.entrypoints.worker:TerritoryWorker",
    permissions=(
        Permission(TERRITORY_READ, "read territories, rules, teams, assignments and their explanations"),
        Permission(TERRITORY_MANAGE, "plan, preview and apply territory model versions, rules, teams and RM departures"),
        Permission(TERRITORY_ASSIGN, "assign an account to a territory and RM by hand, and clear that override"),
        Permission(TERRITORY_ROUTE, "route a lead through the assignment rules"),
        Permission(QUOTA_READ, "read quota plans, attainment, coverage and leaderboards"),
        Permission(QUOTA_PLAN, "seed, allocate, adjust, submit and revise quota plans"),
        Permission(QUOTA_APPROVE, "approve or reject a submitted quota plan (not one's own)"),
    ),
    grants={
        "rm": frozenset({TERRITORY_READ, QUOTA_READ}),
        "telesales": frozenset({TERRITORY_READ}),
        "sales_manager": frozenset({TERRITORY_READ, TERRITORY_ASSIGN, QUOTA_READ, QUOTA_PLAN}),
        "sales_ops": frozenset({TERRITORY_READ, TERRITORY_MANAGE, TERRITORY_ASSIGN, QUOTA_READ, QUOTA_PLAN}),
        "head_of_sales": frozenset({TERRITORY_READ, QUOTA_READ, QUOTA_APPROVE}),
        "web_capture": frozenset({TERRITORY_ROUTE}),
        "service": frozenset({TERRITORY_READ, TERRITORY_ROUTE, TERRITORY_ASSIGN, QUOTA_READ}),
        "admin": frozenset({TERRITORY_READ, TERRITORY_MANAGE, TERRITORY_ASSIGN, QUOTA_READ, QUOTA_PLAN}),
    },
    consumes=(
        # Routing and account assignment: leads and accounts as they change, open opportunities per account.
        ConsumedEvent("lead", "LeadCaptured"),
        ConsumedEvent("lead", "LeadScored"),
        ConsumedEvent("lead", "LeadQualified"),
        ConsumedEvent("account", "AccountCreated"),
        ConsumedEvent("account", "AccountUpdated"),
        # Quotas: attainment, the open pipeline, and quota following account moves.
        *(ConsumedEvent("opportunity", m) for m in ("OpportunityCreated", "OpportunityUpdated", "OpportunityStageChanged")),
        *(ConsumedEvent("opportunity", m) for m in ("OpportunityWon", "OpportunityLost", "OpportunityReopened")),
        ConsumedEvent("account", "HoldingOpened"),
        ConsumedEvent("account", "HoldingClosed"),
        ConsumedEvent("territory-quota", "AccountTerritoryAssigned"),
    ),
    ctl="crm_territory.entrypoints.ctl",
)
