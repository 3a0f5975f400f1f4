"""The bank's roles and the permissions each grants: the one table every service reads.

Permissions are `<resource>.<verb>`; each RPC names the one it needs in its servicer's
`PERMISSIONS` map. Tokens may also carry extra permissions in a space-separated `scope` claim
(machine clients such as the web-form backend).
"""

from __future__ import annotations

LEAD_READ = "leads.read"
# Seeing every lead; without it a caller sees only the leads sales works on (MQL, CONTACTED,
# SQL) and converted ones: the rest stay with marketing, hidden from sales.
LEAD_READ_ALL = "leads.read_all"
LEAD_WRITE = "leads.write"
LEAD_IMPORT = "leads.import"
LEAD_ASSIGN = "leads.assign"
LEAD_CONTACT = "leads.contact"
LEAD_QUALIFY = "leads.qualify"
LEAD_CONVERT = "leads.convert"
TEAM_MANAGE = "teams.manage"
ACCOUNT_READ = "accounts.read"
ACCOUNT_WRITE = "accounts.write"
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
# Querying the audit log: who touched a customer's data, and when (a platform permission: every
# service serves crm.audit.v1.AuditService).
AUDIT_READ = "audit.read"
OPPORTUNITY_READ = "opportunities.read"
OPPORTUNITY_WRITE = "opportunities.write"
# Recording the loan origination system's decisions (the LOS integration's service identity).
LOS_DECISION = "opportunities.los_decision"

_TELESALES = {LEAD_READ, LEAD_CONTACT, LEAD_QUALIFY, ACCOUNT_READ, CONSENT_READ, CONSENT_WRITE}
_RM = _TELESALES | {LEAD_CONVERT, ACCOUNT_WRITE, OPPORTUNITY_READ, OPPORTUNITY_WRITE, PII_READ}

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "marketing": frozenset({LEAD_READ, LEAD_READ_ALL, LEAD_WRITE, LEAD_IMPORT, CONSENT_READ}),
    "web_capture": frozenset({LEAD_WRITE}),
    "telesales": frozenset(_TELESALES),
    "rm": frozenset(_RM),
    "sales_manager": frozenset(_RM | {LEAD_ASSIGN, TEAM_MANAGE, LEAD_WRITE, LEAD_READ_ALL, ACCOUNT_TIER}),
    # Other services of the suite acting on their own behalf (recovery loops, consumers).
    "service": frozenset(_RM | {LEAD_WRITE, LEAD_ASSIGN, LEAD_READ_ALL, KYC_WRITE, HOLDINGS_IMPORT, LOS_DECISION}),
    "compliance": frozenset({ACCOUNT_READ, PII_READ, KYC_WRITE, KYC_REVIEW, CONSENT_READ, AUDIT_READ}),
    "data_steward": frozenset({ACCOUNT_READ, ACCOUNT_WRITE, PII_READ, DUPLICATES_MANAGE}),
    "privacy_officer": frozenset({ACCOUNT_READ, PII_READ, PRIVACY_MANAGE}),
    "admin": frozenset(_RM | {LEAD_WRITE, LEAD_IMPORT, LEAD_ASSIGN, TEAM_MANAGE, ACCOUNT_TIER, HOLDINGS_IMPORT, DUPLICATES_MANAGE}),
}


def permissions_for(roles: list[str], scope: str = "") -> frozenset[str]:
    granted: set[str] = set(scope.split()) if scope else set()
    for role in roles:
        granted |= ROLE_PERMISSIONS.get(role, frozenset())
    return frozenset(granted)
