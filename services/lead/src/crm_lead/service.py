"""The lead service's entry in the suite's registry (crm_common.registry): read by every process
and every tool, so it imports nothing heavy (no grpc, sqlalchemy or nameko)."""

from __future__ import annotations

from crm_common.registry import ConsumedEvent, Permission, ServiceDefinition

LEAD_READ = "leads.read"
# Seeing every lead; without it a caller sees only the leads sales works on (MQL, CONTACTED,
# SQL) and converted ones: the rest stay with marketing, hidden from sales.
LEAD_READ_ALL = "leads.read_all"
LEAD_WRITE = "leads.write"
LEAD_IMPORT = "leads.import"
# Assigning leads, and reassigning them to another owner (managers, within their data scope).
LEAD_ASSIGN = "leads.assign"
LEAD_CONTACT = "leads.contact"
LEAD_QUALIFY = "leads.qualify"
LEAD_CONVERT = "leads.convert"
TEAM_MANAGE = "teams.manage"

_TELESALES = frozenset({LEAD_READ, LEAD_CONTACT, LEAD_QUALIFY})
_RM = _TELESALES | {LEAD_CONVERT}
_MANAGER = _RM | {LEAD_ASSIGN, TEAM_MANAGE, LEAD_WRITE, LEAD_READ_ALL}

SERVICE = ServiceDefinition(
    name="lead",
    package="crm_lead",
    description="capture, qualify, assign and convert marketing and sales leads",
    grpc_port=50051,
    metrics_port=9471,
    worker_metrics_port=9481,
    relay_metrics_port=9491,
    grpc_service="crm.lead.v1.LeadService",
    settings="crm_lead.config:LeadSettings",
    bootstrap="crm_lead.bootstrap:bootstrap",
    migrations="crm_lead:migrations",
    worker_class="crm_lead.entrypoints.worker:LeadWorker",
    pii=True,
    pii_maintenance="crm_lead.adapters.pii_maintenance",
    permissions=(
        Permission(LEAD_READ, "read leads (those sales works on, without leads.read_all)"),
        Permission(LEAD_READ_ALL, "see every lead, also those that stay with marketing"),
        Permission(LEAD_WRITE, "create and capture leads, record behaviour"),
        Permission(LEAD_IMPORT, "import leads in bulk"),
        Permission(LEAD_ASSIGN, "assign leads to agents and teams"),
        Permission(LEAD_CONTACT, "record contact attempts"),
        Permission(LEAD_QUALIFY, "qualify, disqualify and return leads to nurture"),
        Permission(LEAD_CONVERT, "convert a lead into an account and an opportunity"),
        Permission(TEAM_MANAGE, "set the members of sales teams"),
    ),
    grants={
        "marketing": frozenset({LEAD_READ, LEAD_READ_ALL, LEAD_WRITE, LEAD_IMPORT}),
        "web_capture": frozenset({LEAD_WRITE}),
        "telesales": _TELESALES,
        "rm": _RM,
        # Managers: a team's, a branch's and a region's (their data scopes differ, crm_common.auth.roles).
        "sales_manager": _MANAGER,
        "branch_manager": _MANAGER,
        "regional_head": _MANAGER,
        "service": _RM | {LEAD_WRITE, LEAD_ASSIGN, LEAD_READ_ALL},
        "admin": _RM | {LEAD_WRITE, LEAD_IMPORT, LEAD_ASSIGN, TEAM_MANAGE},
    },
    consumes=(
        ConsumedEvent("opportunity", "OpportunityCreated"),
        ConsumedEvent("account", "ErasureRequested"),
        ConsumedEvent("account", "AccountsMerged"),
        ConsumedEvent("account", "AccountsUnmerged"),
        ConsumedEvent("territory-quota", "LeadRouted"),
    ),
    config_files=("LEAD_SCORING_RULES_FILE",),
    # The e2e suite resumes stalled conversions within a second.
    e2e_env={"LEAD_CONVERSION_RECOVERY_SECONDS": "1"},
    ctl="crm_lead.entrypoints.ctl",
)
