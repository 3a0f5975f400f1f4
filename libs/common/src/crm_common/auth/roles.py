"""The bank's roles and the permissions each grants: the one table every service reads.

Permissions are `<resource>.<verb>`; each RPC names the one it needs in its servicer's
`PERMISSIONS` map. Tokens may also carry extra permissions in a space-separated `scope` claim
(machine clients such as the web-form backend).

Each role also has a reach (`ROLE_REACH`): how far its data scope extends beyond the caller's
own book (crm_common.auth.scopes, docs/security.md#data-scopes).
"""

from __future__ import annotations

from crm_common.auth.scopes import Reach

LEAD_READ = "leads.read"
# Seeing every lead; without it a caller sees only the leads sales works on (MQL, CONTACTED,
# SQL) and converted ones: the rest stay with marketing, hidden from sales.
LEAD_READ_ALL = "leads.read_all"
LEAD_WRITE = "leads.write"
LEAD_IMPORT = "leads.import"
# Assigning leads, and reassigning them to another owner (managers).
LEAD_ASSIGN = "leads.assign"
LEAD_CONTACT = "leads.contact"
LEAD_QUALIFY = "leads.qualify"
LEAD_CONVERT = "leads.convert"
TEAM_MANAGE = "teams.manage"
ACCOUNT_READ = "accounts.read"
ACCOUNT_WRITE = "accounts.write"
# Moving a customer to another owner, branch or territory (managers).
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
# Seeing national ids, phones and emails unmasked.
PII_READ = "pii.read"
OPPORTUNITY_READ = "opportunities.read"
OPPORTUNITY_WRITE = "opportunities.write"
# Moving an opportunity to another owner, team or territory (managers).
OPPORTUNITY_REASSIGN = "opportunities.reassign"
# Recording the loan origination system's decisions (the LOS integration's service identity).
LOS_DECISION = "opportunities.los_decision"

_TELESALES = {LEAD_READ, LEAD_CONTACT, LEAD_QUALIFY, ACCOUNT_READ, CONSENT_READ, CONSENT_WRITE}
_RM = _TELESALES | {LEAD_CONVERT, ACCOUNT_WRITE, OPPORTUNITY_READ, OPPORTUNITY_WRITE, PII_READ}
_MANAGER = _RM | {LEAD_ASSIGN, TEAM_MANAGE, LEAD_WRITE, LEAD_READ_ALL, ACCOUNT_TIER, ACCOUNT_REASSIGN, OPPORTUNITY_REASSIGN}

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "marketing": frozenset({LEAD_READ, LEAD_READ_ALL, LEAD_WRITE, LEAD_IMPORT, CONSENT_READ}),
    "web_capture": frozenset({LEAD_WRITE}),
    "telesales": frozenset(_TELESALES),
    "rm": frozenset(_RM),
    "sales_manager": frozenset(_MANAGER),
    # Managers of a branch and of a region: a sales manager's permissions over a wider scope.
    "branch_manager": frozenset(_MANAGER),
    "regional_head": frozenset(_MANAGER),
    # Other services of the suite acting on their own behalf (recovery loops, consumers).
    "service": frozenset(_RM | {LEAD_WRITE, LEAD_ASSIGN, LEAD_READ_ALL, KYC_WRITE, HOLDINGS_IMPORT, LOS_DECISION}),
    "compliance": frozenset({ACCOUNT_READ, PII_READ, KYC_WRITE, KYC_REVIEW, CONSENT_READ}),
    "data_steward": frozenset({ACCOUNT_READ, ACCOUNT_WRITE, PII_READ, DUPLICATES_MANAGE}),
    "privacy_officer": frozenset({ACCOUNT_READ, PII_READ, PRIVACY_MANAGE}),
    "admin": frozenset(
        _RM
        | {
            LEAD_WRITE,
            LEAD_IMPORT,
            LEAD_ASSIGN,
            TEAM_MANAGE,
            ACCOUNT_TIER,
            HOLDINGS_IMPORT,
            DUPLICATES_MANAGE,
            ACCOUNT_REASSIGN,
            OPPORTUNITY_REASSIGN,
        }
    ),
}

# How far each role sees beyond the caller's own book; several roles: the widest union. A role
# not listed reaches its own book only (web_capture: its captures are declared bank-wide).
ROLE_REACH: dict[str, Reach] = {
    "telesales": Reach.OWN,
    "rm": Reach.OWN,
    "web_capture": Reach.OWN,
    "sales_manager": Reach.TEAM,
    "branch_manager": Reach.BRANCH,
    "regional_head": Reach.TERRITORY,
    # Marketing works every lead (its permissions reach leads and consents; PII stays masked).
    "marketing": Reach.ALL,
    "compliance": Reach.ALL,
    "privacy_officer": Reach.ALL,
    "data_steward": Reach.ALL,
    "service": Reach.ALL,
    "admin": Reach.ALL,
}


def permissions_for(roles: list[str], scope: str = "") -> frozenset[str]:
    granted: set[str] = set(scope.split()) if scope else set()
    for role in roles:
        granted |= ROLE_PERMISSIONS.get(role, frozenset())
    return frozenset(granted)
