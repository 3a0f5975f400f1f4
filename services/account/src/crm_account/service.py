"""The account service's entry in the suite's registry (crm_common.registry): read by every
process and every tool, so it imports nothing heavy (no grpc, sqlalchemy or nameko)."""

from __future__ import annotations

from crm_common.registry import ConsumedEvent, Permission, ServiceDefinition

ACCOUNT_READ = "accounts.read"
ACCOUNT_WRITE = "accounts.write"
# Moving a customer to another owner, branch or territory (managers, within their data scope).
ACCOUNT_REASSIGN = "accounts.reassign"
# Overriding a customer's value tier by hand (it changes pricing and service levels).
ACCOUNT_TIER = "accounts.tier"
# Recording customers' consent decisions, and reading them (campaigns check before every send).
CONSENT_WRITE = "consents.write"
CONSENT_READ = "consents.read"
# Recording KYC outcomes: the onboarding system (eKYC/LOS) with a service identity, compliance.
KYC_WRITE = "kyc.write"
# Working the watchlist-hit queue: confirming or dismissing matches (compliance officers).
KYC_REVIEW = "kyc.review"
# Loading core-banking snapshots of product holdings (the core-banking integration).
HOLDINGS_IMPORT = "holdings.import"
# Working the duplicate queue and merging accounts (data stewards).
DUPLICATES_MANAGE = "accounts.merge"
# Data-subject rights: exports, legal holds and erasure (the data protection officer).
PRIVACY_MANAGE = "privacy.manage"

_TELESALES = frozenset({ACCOUNT_READ, CONSENT_READ, CONSENT_WRITE})
_RM = _TELESALES | {ACCOUNT_WRITE}

SERVICE = ServiceDefinition(
    name="account",
    package="crm_account",
    description="the golden customer record: profiles, consent, KYC and screening, holdings, duplicates, privacy",
    grpc_port=50052,
    metrics_port=9472,
    worker_metrics_port=9482,
    relay_metrics_port=9492,
    grpc_service="crm.account.v1.AccountService",
    settings="crm_account.config:AccountSettings",
    bootstrap="crm_account.bootstrap:bootstrap",
    migrations="crm_account:migrations",
    worker_class="crm_account.entrypoints.worker:AccountWorker",
    pii=True,
    # Exports and erasures start here; every other `pii` service takes part (crm_common.privacy).
    privacy_coordinator=True,
    pii_maintenance="crm_account.adapters.pii_maintenance",
    permissions=(
        Permission(ACCOUNT_READ, "read and search accounts, their holdings, relationships and changes"),
        Permission(ACCOUNT_WRITE, "create and update accounts, relationships and households"),
        Permission(ACCOUNT_REASSIGN, "move a customer to another owner, branch or territory"),
        Permission(ACCOUNT_TIER, "override a customer's value tier"),
        Permission(CONSENT_WRITE, "record customers' consent decisions"),
        Permission(CONSENT_READ, "read and check consent"),
        Permission(KYC_WRITE, "record KYC outcomes and screen accounts"),
        Permission(KYC_REVIEW, "confirm or dismiss watchlist hits"),
        Permission(HOLDINGS_IMPORT, "load core-banking snapshots of product holdings"),
        Permission(DUPLICATES_MANAGE, "work the duplicate queue and merge accounts"),
        Permission(PRIVACY_MANAGE, "data-subject exports, legal holds and erasure"),
    ),
    grants={
        "marketing": frozenset({CONSENT_READ}),
        "telesales": _TELESALES,
        "rm": _RM,
        # Managers: a team's, a branch's and a region's (their data scopes differ, crm_common.auth.roles).
        "sales_manager": _RM | {ACCOUNT_TIER, ACCOUNT_REASSIGN},
        "branch_manager": _RM | {ACCOUNT_TIER, ACCOUNT_REASSIGN},
        "regional_head": _RM | {ACCOUNT_TIER, ACCOUNT_REASSIGN},
        "service": _RM | {KYC_WRITE, HOLDINGS_IMPORT},
        "compliance": frozenset({ACCOUNT_READ, KYC_WRITE, KYC_REVIEW, CONSENT_READ}),
        "data_steward": frozenset({ACCOUNT_READ, ACCOUNT_WRITE, DUPLICATES_MANAGE}),
        "privacy_officer": frozenset({ACCOUNT_READ, PRIVACY_MANAGE}),
        "admin": _RM | {ACCOUNT_TIER, HOLDINGS_IMPORT, DUPLICATES_MANAGE, ACCOUNT_REASSIGN},
    },
    consumes=(
        ConsumedEvent("lead", "LeadConverted"),
        ConsumedEvent("opportunity", "OpportunityWon"),
        ConsumedEvent("opportunity", "OpportunityReopened"),
        # And every participant's ErasureConfirmed (crm_common.registry.consumed_events).
        ConsumedEvent("onboarding", "KycOutcomeReported"),
        ConsumedEvent("territory-quota", "AccountTerritoryAssigned"),
    ),
    config_files=("ACCOUNT_WATCHLIST_FILE",),
    ctl="crm_account.entrypoints.ctl",
)
